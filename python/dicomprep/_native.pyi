"""Type stubs of the native module (PyO3). The public API is the package's; see __init__.py."""

from typing import Any, Callable, List, Optional, Tuple

__version__: str

class Error(Exception): ...
class UsageError(Error): ...
class SourceError(Error): ...
class OutputError(Error): ...
class InputError(Error): ...
class VolumeError(Error): ...

def main(argv: List[str]) -> int:
    """Runs the dicomprep command with `argv` (program name first); returns its exit code."""

def scan(argv: List[str]) -> str:
    """`dicomprep scan`: JSON of {"columns", "rows", "skipped", "failed"}."""

def order(argv: List[str]) -> Scanned:
    """`dicomprep order`: the scanned and ordered source."""

def convert(argv: List[str]) -> str:
    """`dicomprep convert`: the manifest written, as JSON."""

def query(db: str, sql: str) -> str:
    """One SQL statement on an index: JSON of {"columns", "rows"}."""

class Scanned:
    """A source scanned and ordered, kept on the Rust side."""

    def report(self) -> str:
        """The order report as JSON."""
    def read_volume(
        self,
        series_uid: str,
        volume: Optional[str],
        rescale: bool,
        allocate: Callable[[List[int], str], Tuple[Any, int]],
        progress: bool = False,
    ) -> Tuple[Any, str]:
        """Fills the array `allocate(shape, dtype)` returns; returns it and its description."""
    def write_nifti(self, series_uid: str, volume: Optional[str], path: str, gzip: bool) -> None:
        """Writes the NIfTI writer's file of the stack to `path`."""
