"""The archive a show's team works in: ``podscribe serve`` (``app.py``) over the catalog, with each episode's
reviewed revisions (``revisions.py``), speaker statistics (``stats.py``) and the show's vocabulary learned from
corrections (``teach.py``). Search itself is :mod:`pipeline.library.search`."""
