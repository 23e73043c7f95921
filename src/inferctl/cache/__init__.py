"""The S3 model cache: mirror a HuggingFace snapshot once, serve it with vLLM's Run:ai streamer loader.

Pure, beside ``sizing`` (below ``render``): where weights live (``location``), the mirror itself (``mirror``, also
run unchanged as a script in the vLLM image), why a mirror failed (``mirror_failures``) and the cold-start estimate
(``coldstart``). The I/O lives with what it talks to: the mirror Jobs in :mod:`inferctl.kube.mirror_jobs`, the
bucket from this machine in :mod:`inferctl.aws.cache_bucket`.
"""
