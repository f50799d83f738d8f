"""The frame format between the host and a jail's zygote: headers and raw blobs, small and large, over a pipe."""

from __future__ import annotations

import os
import threading

import pytest

from rlvr_sandbox.zygote import FrameReader, write_frame


@pytest.mark.parametrize("sizes", [[0, 1, 5], [300_000], [4 << 20, 7, 3 << 20], [1 << 18, (1 << 18) + 1]])
def test_frames_round_trip_through_a_pipe(sizes: list[int]) -> None:
    blobs = [os.urandom(n) for n in sizes]
    frames = [({"n": i, "sizes": sizes}, blobs) for i in range(3)]
    r, w = os.pipe()

    def writer() -> None:
        for header, data in frames:
            write_frame(w, header, data)
        os.close(w)

    thread = threading.Thread(target=writer)
    thread.start()
    reader = FrameReader(r)
    try:
        for header, data in frames:
            got = reader.read(deadline=None)
            assert got is not None
            assert got[0] == header
            assert got[1] == data and all(type(b) is bytes for b in got[1])
        assert reader.read() is None  # end of file after the last frame
    finally:
        thread.join()
        os.close(r)


def test_a_truncated_large_blob_is_an_error_not_a_short_blob() -> None:
    r, w = os.pipe()
    frame = bytearray()
    rr, ww = os.pipe()
    write_frame(ww, {"x": 1}, [b"a" * 100])
    os.close(ww)
    frame += os.read(rr, 1 << 16)
    os.close(rr)
    # the same header, but the blob claims 1 MiB and the writer stops after 100 bytes
    head_len = int.from_bytes(frame[:4], "big")
    prefix = bytes(frame[: 8 + head_len]) + (1 << 20).to_bytes(8, "big") + b"a" * 100
    os.write(w, prefix)
    os.close(w)
    with pytest.raises(EOFError):
        FrameReader(r).read()
    os.close(r)
