"""A simulated container's filesystem as `exec` sees it: the image and volume files, plus what exec writes.

Writes land where a real container could write them and fail where it could not:
- a path below a volume mount is writable only when that mount is: ConfigMap, Secret, projected and
  downward-API volumes are always mounted read-only (Kubernetes 1.9.4+, CVE-2017-1002102: "secret,
  configMap, downwardAPI and projected volumes will be mounted as read-only"), a `readOnly: true` mount is
  read-only, an emptyDir or a writable hostPath is writable;
- anything else is the container's root filesystem, read-only under `securityContext.readOnlyRootFilesystem`.
The failure is the kernel's EROFS text, `Read-only file system`, which every tool prints after its own prefix.

What exec writes lives as long as this object (the container instance); an emptyDir would outlive a
container restart in a real pod, which no caller here relies on.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping

EROFS = "Read-only file system"
ENOENT = "No such file or directory"
EEXIST = "File exists"
EISDIR = "Is a directory"


class FsError(Exception):
    """An operation failed with an errno; `str()` is the errno's text (strerror)."""


def normalize(path: str) -> str:
    return posixpath.normpath(path) if path else path


class ContainerFs:
    """The merged view (image + volumes + exec's writes) and the writable-or-not rules above."""

    def __init__(
        self,
        base: Callable[[], Mapping[str, str]],
        mounts: Mapping[str, bool] | None = None,
        *,
        read_only_root: bool = False,
    ) -> None:
        self._base = base  # the image and volume files as of now (volumes change on ConfigMap updates)
        self.mounts = {normalize(m).rstrip("/") or "/": w for m, w in (mounts or {}).items()}
        self.read_only_root = read_only_root
        self.written: dict[str, str] = {}  # path -> content; "dir/" keys are directories
        self._removed: set[str] = set()

    # ---- reading ------------------------------------------------------------------------------------
    def files(self) -> dict[str, str]:
        """Every file (and "dir/" key) the container sees now."""
        merged = {p: c for p, c in self._base().items() if p.rstrip("/") not in self._removed}
        merged.update(self.written)
        return merged

    def is_dir(self, path: str, files: Mapping[str, str] | None = None) -> bool:
        path = normalize(path)
        if path == "/":
            return True
        view = self.files() if files is None else files
        prefix = path.rstrip("/") + "/"
        return prefix in view or any(p.startswith(prefix) for p in view) or path in self.mounts

    def exists(self, path: str) -> bool:
        files = self.files()
        return normalize(path) in files or self.is_dir(path, files)

    # ---- writing ------------------------------------------------------------------------------------
    def _mount_of(self, path: str) -> str | None:
        best = None
        for mount in self.mounts:
            if (path == mount or path.startswith(mount.rstrip("/") + "/")) and (
                best is None or len(mount) > len(best)
            ):
                best = mount
        return best

    def check_writable(self, path: str) -> None:
        """Raise FsError(EROFS) when `path` (a file or directory to create or remove) is read-only."""
        mount = self._mount_of(normalize(path))
        writable = self.mounts[mount] if mount is not None else not self.read_only_root
        if not writable:
            raise FsError(EROFS)

    def _create(self, path: str, entry: str, text: str) -> None:
        """Store `entry` (the file itself, or a directory's `path/`) for `path`: its directory must exist
        (ENOENT) and be on a writable mount (EROFS)."""
        if not self.is_dir(posixpath.dirname(path)):
            raise FsError(ENOENT)
        self.check_writable(path)
        self.written[entry] = text
        self._removed.discard(path)

    def write(self, path: str, text: str, *, append: bool = False) -> None:
        """Create or truncate (or append to) a regular file whose directory exists."""
        path = normalize(path)
        if self.is_dir(path):
            raise FsError(EISDIR)
        current = self.files().get(path, "") if append else ""
        self._create(path, path, current + text)

    def mkdir(self, path: str) -> None:
        path = normalize(path)
        if self.exists(path):
            raise FsError(EEXIST)
        self._create(path, path.rstrip("/") + "/", "")

    def remove(self, path: str, *, recursive: bool) -> None:
        """Remove a file, or a directory with everything below it (`recursive`)."""
        path = normalize(path)
        files = self.files()
        if path not in files and not self.is_dir(path, files):
            raise FsError(ENOENT)
        if self.is_dir(path, files) and not recursive:
            raise FsError(EISDIR)
        self.check_writable(path)
        prefix = path.rstrip("/") + "/"
        for p in [p for p in files if p == path or p.startswith(prefix)]:
            self.written.pop(p, None)
            if p not in self.written:
                self._removed.add(p.rstrip("/"))
        self._removed.add(path)
