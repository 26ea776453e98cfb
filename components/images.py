"""The images the components run in, read from params.yaml at import (compile) time."""
from pathlib import Path

from streampro.config import load_params

PARAMS_FILE = Path(__file__).resolve().parent.parent / "params.yaml"
PARAMS = load_params(PARAMS_FILE)
CPU_IMAGE = PARAMS.orchestration.cpu_image
GPU_IMAGE = PARAMS.orchestration.gpu_image
