"""The S3 model cache: mirror a HuggingFace snapshot once, serve it with vLLM's Run:ai streamer loader."""
