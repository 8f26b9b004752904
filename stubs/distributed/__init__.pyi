# The part of Dask distributed tiercube uses: its inline annotations leave Client's methods untyped.
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, Literal, TypeVar

_T = TypeVar("_T")

class Future(Generic[_T]):
    key: str
    status: str
    def result(self, timeout: float | None = None) -> _T: ...
    def done(self) -> bool: ...
    def exception(self, timeout: float | None = None) -> BaseException: ...
    def release(self) -> None: ...

class Client:
    def __init__(self, address: str | LocalCluster | None = None, *, timeout: str | float = ..., set_as_default: bool = ...) -> None: ...
    def scheduler_info(self, n_workers: int = -1) -> dict[str, Any]: ...
    def scatter(
        self, data: list[_T], *, workers: list[str] | None = None, direct: bool | None = None, hash: bool = True
    ) -> list[Future[_T]]: ...
    def submit(
        self,
        function: Callable[..., _T],
        *args: Any,
        workers: list[str] | None = None,
        allow_other_workers: bool = False,
        pure: bool = True,
    ) -> Future[_T]: ...
    def gather(self, futures: Sequence[Future[Any]], *, errors: Literal["raise", "skip"] = "raise", direct: bool | None = None, asynchronous: bool | None = None) -> list[Any]: ...
    def run(
        self,
        function: Callable[..., Any],
        *args: Any,
        workers: list[str] | None = None,
        on_error: Literal["raise", "return", "ignore"] = "raise",
    ) -> dict[str, Any]: ...
    def close(self, timeout: float | None = None) -> None: ...
    def __enter__(self) -> Client: ...
    def __exit__(self, *args: object) -> None: ...

class LocalCluster:
    scheduler_address: str
    workers: Mapping[Any, Any]
    def __init__(
        self,
        n_workers: int | None = None,
        threads_per_worker: int | None = None,
        processes: bool | None = None,
        dashboard_address: str | None = ":8787",
        memory_limit: str | float | None = "auto",
        **kwargs: Any,
    ) -> None: ...
    def close(self, timeout: float | None = None) -> None: ...
    def __enter__(self) -> LocalCluster: ...
    def __exit__(self, *args: object) -> None: ...

class WorkerState:
    nthreads: int

class Worker:
    address: str
    state: WorkerState

def get_worker() -> Worker: ...
def wait(futures: Sequence[Future[Any]], timeout: float | None = None) -> Any: ...
