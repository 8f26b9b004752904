"""Cubes over star and snowflake schemas: joins, hierarchies, measures, queries, MDX.

``CubeStore`` is the entry point; it owns the session's ``JoinGraph``.
"""

from tiercube._server.engine.cubes.joins import JoinGraph
from tiercube._server.engine.cubes.mdx import to_cube_query
from tiercube._server.engine.cubes.store import CONTRIBUTORS, CubeStore

__all__ = ["CONTRIBUTORS", "CubeStore", "JoinGraph", "to_cube_query"]
