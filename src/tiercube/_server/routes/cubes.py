"""Cube structure: read it (read model group) and change it (editing group)."""

from __future__ import annotations

from tiercube._server.routing import Call, endpoint
from tiercube._wire import routes
from tiercube._wire.cubes import (
    CreateCube,
    CubeInfo,
    HierarchyInfo,
    Join,
    JoinInfo,
    MeasureInfo,
    SetHierarchy,
    SetMeasure,
    UpdateMeasure,
)


def cube_info(call: Call[None]) -> CubeInfo:
    return call.state.cubes.cube(call.params["cube"])


def create_cube(call: Call[CreateCube]) -> CubeInfo:
    return call.state.cubes.create_cube(call.body)


def delete_cube(call: Call[None]) -> None:
    call.state.cubes.delete_cube(call.params["cube"])


def set_measure(call: Call[SetMeasure]) -> MeasureInfo:
    return call.state.cubes.set_measure(call.params["cube"], call.params["measure"], call.body)


def update_measure(call: Call[UpdateMeasure]) -> MeasureInfo:
    return call.state.cubes.update_measure(call.params["cube"], call.params["measure"], call.body)


def delete_measure(call: Call[None]) -> None:
    call.state.cubes.delete_measure(call.params["cube"], call.params["measure"])


def set_hierarchy(call: Call[SetHierarchy]) -> HierarchyInfo:
    return call.state.cubes.set_hierarchy(call.params["cube"], call.params["hierarchy"], call.body)


def delete_hierarchy(call: Call[None]) -> None:
    call.state.cubes.delete_hierarchy(call.params["cube"], call.params["hierarchy"])


def join(call: Call[Join]) -> JoinInfo:
    return call.state.cubes.join(call.params["table"], call.body)


served = [
    endpoint(routes.CUBE_INFO, cube_info),
    endpoint(routes.CREATE_CUBE, create_cube),
    endpoint(routes.DELETE_CUBE, delete_cube),
    endpoint(routes.SET_MEASURE, set_measure),
    endpoint(routes.DELETE_MEASURE, delete_measure),
    endpoint(routes.UPDATE_MEASURE, update_measure),
    endpoint(routes.SET_HIERARCHY, set_hierarchy),
    endpoint(routes.DELETE_HIERARCHY, delete_hierarchy),
    endpoint(routes.JOIN, join),
]
