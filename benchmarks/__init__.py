"""podscribe's benchmarks, each a module run as ``.venv/bin/python -m benchmarks.NAME`` from the repository root
(``--help`` lists its options). What each measures and the latest tables: benchmarks/README.md; earlier results
and one-off experiments: benchmarks/HISTORY.md. Child processes are timed and measured by :mod:`benchmarks.harness`."""
