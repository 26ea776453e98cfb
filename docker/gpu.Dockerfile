# StreamPro GPU image: the Kubeflow GPU steps (sft, grpo, bench of models). torch 2.14.1 from
# requirements.lock is a CUDA build whose CUDA libraries come as wheels, so a slim base suffices;
# the node provides the driver. vLLM is optional: --build-arg WITH_VLLM=1.
#   docker build -f docker/gpu.Dockerfile -t REGION-docker.pkg.dev/PROJECT/streampro/gpu:TAG .
FROM python:3.11-slim

ARG WITH_VLLM=0
ARG VLLM_VERSION=0.11.0
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg libgl1 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/streampro
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir -r requirements.lock \
    && if [ "$WITH_VLLM" = "1" ]; then pip install --no-cache-dir "vllm==${VLLM_VERSION}"; fi
COPY streampro ./streampro
COPY components ./components
COPY params.yaml ./
RUN pip install --no-cache-dir --no-deps . \
    && useradd --create-home --uid 1000 streampro
USER 1000
ENV PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=0
ENTRYPOINT ["python", "-m", "streampro.cli"]
