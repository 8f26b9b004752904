"""Cube structure: read it (read model group) and change it (editing group)."""

from __future__ import annotations

from tiercube._server.access import Group
from tiercube._server.routing import Call, endpoint
from tiercube._wire import paths
from tiercube._wire.cubes import (
    CreateCube,
    CubeInfo,
    HierarchyInfo,
    Join,
    JoinInfo,
    MeasureInfo,
    SetHierarchy,
    SetMeasure,
)


def cube_info(call: Call[None]) -> CubeInfo:
    return call.state.cubes.cube(call.params["cube"])


def create_cube(call: Call[CreateCube]) -> CubeInfo:
    return call.state.cubes.create_cube(call.state.tables, call.body)


def delete_cube(call: Call[None]) -> None:
    call.state.cubes.delete_cube(call.params["cube"])


def set_measure(call: Call[SetMeasure]) -> MeasureInfo:
    return call.state.cubes.set_measure(call.state.tables, call.params["cube"], call.params["measure"], call.body)


def delete_measure(call: Call[None]) -> None:
    call.state.cubes.delete_measure(call.params["cube"], call.params["measure"])


def set_hierarchy(call: Call[SetHierarchy]) -> HierarchyInfo:
    return call.state.cubes.set_hierarchy(call.state.tables, call.params["cube"], call.params["hierarchy"], call.body)


def delete_hierarchy(call: Call[None]) -> None:
    call.state.cubes.delete_hierarchy(call.params["cube"], call.params["hierarchy"])


def join(call: Call[Join]) -> JoinInfo:
    return call.state.cubes.join(call.state.tables, call.params["table"], call.body)


routes = [
    endpoint("GET", paths.CUBE, Group.READ_MODEL, cube_info),
    endpoint("POST", paths.CUBES, Group.EDIT, create_cube, CreateCube),
    endpoint("DELETE", paths.CUBE, Group.EDIT, delete_cube),
    endpoint("PUT", paths.CUBE_MEASURE, Group.EDIT, set_measure, SetMeasure),
    endpoint("DELETE", paths.CUBE_MEASURE, Group.EDIT, delete_measure),
    endpoint("PUT", paths.CUBE_HIERARCHY, Group.EDIT, set_hierarchy, SetHierarchy),
    endpoint("DELETE", paths.CUBE_HIERARCHY, Group.EDIT, delete_hierarchy),
    endpoint("POST", paths.TABLE_JOIN, Group.EDIT, join, Join),
]
