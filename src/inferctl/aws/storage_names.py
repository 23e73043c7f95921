"""Names the AWS program gives storage, importable without pulumi (the target uses them before any program run)."""

MODEL_CACHE_STORAGE_CLASS = "gp3"  # the StorageClass aws/storage.py creates for kubernetes.model_cache: pvc
# The EBS CSI driver's name, its StorageClasses' provisioner and its volumes' spec.csi.driver
# (kubernetes-sigs/aws-ebs-csi-driver, charts/aws-ebs-csi-driver templates/ebs-csi-default-sc.yaml).
EBS_CSI_DRIVER = "ebs.csi.aws.com"
