#!/usr/bin/env python3
"""Writes the seed corpus of metadata_line_fuzzer: a few frames encoded the way the fuzzer decodes
its input (FuzzedDataProvider: strings from the front of the input, numbers from the back), so
that fuzzing starts from frames that already have detections, drops, failures and events.

    tests/fuzz/make_metadata_seeds.py     # rewrites tests/fuzz/corpus/metadata_line_fuzzer/

Keep the fields in the order decode_frame() in metadata_line_fuzzer.cpp reads them.
"""
import os
import struct

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class Seed:
    def __init__(self):
        self.front = bytearray()  # strings, read from the start
        self.back = bytearray()   # numbers, read from the end: the first number read is last

    def integer(self, value, low, high):
        span = high - low
        size = 0
        while size < 8 and (span >> (8 * size)) > 0:
            size += 1
        offset = value - low
        assert 0 <= offset <= span
        # The first byte read (the last of the input) is the most significant.
        for shift in reversed(range(size)):
            self.back.append((offset >> (8 * shift)) & 0xFF)

    def boolean(self, value):
        self.integer(1 if value else 0, 0, 255)

    def text(self, value):
        data = value if isinstance(value, bytes) else value.encode()
        self.front += data.replace(b"\\", b"\\\\") + b"\\;"  # a backslash and another byte end it

    def double(self, value):
        self.integer(struct.unpack("<Q", struct.pack("<d", value))[0], 0, 2**64 - 1)

    def single(self, value):
        self.integer(struct.unpack("<I", struct.pack("<f", value))[0], 0, 2**32 - 1)

    def bytes(self):
        return bytes(self.front) + bytes(reversed(self.back))


OK, DROPPED, FAILED = 0, 1, 2


def frame(stream=0, status=OK, span=1, cause=0, seq=0, pts=0, error="", detections=(), events=()):
    seed = Seed()
    seed.integer(stream, INT_MIN, INT_MAX)
    seed.integer(status, 0, 2)
    if status == DROPPED:
        seed.integer(span, 1, 6)
        seed.integer(cause, 0, 3)
    seed.integer(seq, 0, INT64_MAX - (span - 1))
    seed.integer(pts, INT64_MIN, INT64_MAX)
    if status == FAILED:
        seed.text(error)
    seed.integer(len(detections), 0, 8)
    for d in detections:
        for value in d["box"]:
            seed.integer(value, INT_MIN, INT_MAX)
        seed.text(d["label"])
        seed.double(d["score"])
        seed.boolean("track_id" in d)
        if "track_id" in d:
            seed.integer(d["track_id"], INT64_MIN, INT64_MAX)
        seed.boolean("text" in d)
        if "text" in d:
            seed.text(d["text"])
        points = d.get("keypoints", [])
        seed.integer(len(points), 0, 6)
        for x, y in points:
            seed.single(x)
            seed.single(y)
        seed.text(d.get("stage", ""))
    seed.integer(len(events), 0, 3)
    for e in events:
        seed.integer(e["start_ns"], 0, INT64_MAX)
        seed.integer(e["duration_ns"], INT64_MIN, INT64_MAX)
        seed.integer(e["attempts"], INT_MIN, INT_MAX)
        seed.text(e["reason"])
        seed.boolean("at" in e)
        if "at" in e:
            seed.integer(e["at"], 0, span - 1)
    return seed.bytes()


SEEDS = {
    "people": frame(seq=12, pts=480_000_000, detections=[
        {"box": (10, 20, 64, 128), "label": "person", "score": 1.25, "stage": "hog"},
        {"box": (300, 40, 70, 140), "label": "person", "score": 0.5, "track_id": 7, "stage": "hog"}]),
    "codes": frame(seq=3, pts=100_000_000, detections=[
        {"box": (5, 5, 120, 120), "label": "QRCode", "score": 1.0,
         "text": 'line one\nline "two"\t\\end\r\x00\x1b[31m\u2028', "stage": "codes"},
        {"box": (0, 0, 95, 40), "label": "EAN-13", "score": 1.0, "text": b"\xff\xfe\xc3(\xed\xa0\x80",
         "stage": "codes"}]),
    "faces": frame(seq=40, pts=-1, detections=[
        {"box": (-5, -5, 2147483647, 1), "label": "face", "score": float("nan"),
         "keypoints": [(1.005, 2.5), (float("inf"), -0.0), (3e38, 1e-45)], "stage": "blazeface"}]),
    "dropped-run": frame(status=DROPPED, span=4, cause=1, seq=57, pts=5_700_000_000, events=[
        {"start_ns": 1_795_000_000_123_456_789, "duration_ns": 3_250_000_000, "attempts": 2,
         "reason": "no frame for 10 s", "at": 2},
        {"start_ns": 0, "duration_ns": -1, "attempts": -1, "reason": "rtsp://***@camera/stream"}]),
    "failed": frame(status=FAILED, seq=9223372036854775807, pts=INT64_MAX,
                    error=b"detect: cv::Exception \xe2\x80 \"bad\"\n", detections=[
        {"box": (1, 2, 3, 4), "label": "", "score": float("-inf"), "track_id": INT64_MIN,
         "text": "", "stage": ""}]),
}

if __name__ == "__main__":
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "metadata_line_fuzzer")
    os.makedirs(folder, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(folder, name), "wb") as out:
            out.write(data)
