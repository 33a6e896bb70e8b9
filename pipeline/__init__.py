"""podscribe: speaker-tagged podcast transcripts with uncertain spans marked [?]."""
import os as _os

# pyannote.audio 4 sends telemetry unless told not to; this must hold before it is imported.
_os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
# OpenMP threads (torch's and CTranslate2's libgomp) that sleep while they wait instead of spinning: on a machine
# whose cores other jobs share, spinning threads wait for descheduled ones and whisper ran several times slower
# (docs/engines.md, "Threads"). It must hold before torch or ctranslate2 is loaded.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
