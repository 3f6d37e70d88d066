# ipa_demo's web app: Gradio on 0.0.0.0:7860, as uid 1000, models cached in a volume.
# torch's Linux wheels bundle the CUDA runtime: a slim Python base is enough, and `docker run --gpus all`
# (NVIDIA Container Toolkit on the host) gives it the GPU. See README "Docker".
# Python 3.12, as the Space (README front matter): diffusers and transformers need 3.11 or newer.
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 1000 --user-group user

WORKDIR /app
# torch and torchvision first, in their CUDA 12.8 build from PyTorch's index: PyPI's wheel of torch
# 2.11 is built for CUDA 13.0, which needs an R580 driver; 12.8 runs on R570 and newer, on Turing to
# Blackwell GPUs. requirements.txt pins the same versions, which these builds satisfy.
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cu128 torch==2.11.0 torchvision==0.26.0
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

# .dockerignore lets in only the app: app.py, ipa_demo/, assets/ (owned by root, read-only to the user).
COPY . ./

ENV HF_HOME=/data/huggingface \
    GRADIO_SERVER_NAME=0.0.0.0 \
    GRADIO_SERVER_PORT=7860 \
    GRADIO_ANALYTICS_ENABLED=False \
    HF_HUB_DISABLE_TELEMETRY=1
# The cache folder is made here, owned by the user, so that a new named volume on it starts writable;
# /app itself (not its files) is the user's too, for what Gradio writes there (.gradio/).
RUN mkdir -p /data/huggingface && chown -R user:user /data && chown user:user /app
VOLUME ["/data/huggingface"]

USER 1000
EXPOSE 7860
# The first start downloads the models (several GB) before the server answers: hence the long start period.
HEALTHCHECK --interval=30s --timeout=10s --start-period=15m --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://localhost:7860/gradio_api/info', timeout=5)"]
# The flags say it again: app.py's own defaults (127.0.0.1) would win over Gradio's variables.
CMD ["python", "app.py", "--host", "0.0.0.0", "--port", "7860"]
