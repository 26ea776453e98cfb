# StreamPro CPU image: the Kubeflow CPU steps (synth, ingest, slice, report) and Dataflow's SDK
# container for the Beam slice job (--sdk_container_image). Built on Beam's Python SDK image so the
# Beam worker harness matches the pinned apache-beam.
#   docker build -f docker/cpu.Dockerfile -t REGION-docker.pkg.dev/PROJECT/streampro/cpu:TAG .
ARG BEAM_VERSION=2.77.0
FROM apache/beam_python3.11_sdk:${BEAM_VERSION}

# FFmpeg for workers that decode with the system libraries (decord and PyAV also ship their own).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/streampro
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir -r requirements.lock
COPY streampro ./streampro
COPY components ./components
COPY params.yaml ./
RUN pip install --no-cache-dir --no-deps .

# Credentials come from the environment (workload identity / application default credentials).
ENV PYTHONUNBUFFERED=1
ENTRYPOINT ["/opt/apache/beam/boot"]
