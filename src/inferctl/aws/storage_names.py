"""Names the AWS program gives storage, importable without pulumi (the target uses them before any program run)."""

MODEL_CACHE_STORAGE_CLASS = "gp3"  # the StorageClass aws/storage.py creates for kubernetes.model_cache: pvc
