"""Durability: a session's changes kept in a data directory, and the session rebuilt from it at a restart.

::

    <data_dir>/lock                   held (flock) by the server using the directory
    <data_dir>/log/<n>.log            the write-ahead log, in segments (``log``, ``frames``)
    <data_dir>/snapshots/<n>/         a snapshot: a catalog and one Arrow file per table (``snapshots``)
    <data_dir>/CURRENT                which snapshot is current

``DataDirectory`` (``directory``) is the ``engine.journal.Journal`` the
stores record in; ``recovery`` rebuilds them. The engine never imports this
package: ``state`` wires the two together.
"""
