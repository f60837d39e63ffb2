"""Log audit: what noaiguard would have made of a site's existing access logs.

:mod:`.logformats` reads nginx and Apache lines, :mod:`.reader` opens plain and compressed logs
and standard input, :mod:`.engine` puts every request through the guard with the log's time as
the clock and writes the events a live store would hold, :mod:`.report` builds the report over
the days the logs cover, and :mod:`.command` is ``noaiguard audit``.
"""

from __future__ import annotations
