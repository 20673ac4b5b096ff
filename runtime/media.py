"""PyAV plumbing shared by whole-file encoding (runtime.video) and chunked encoding (runtime.chunks):
containers and the codecs they hold, pixel formats, colour (matrix, range, HDR tone-mapping),
timestamps, and cheap probing of an input's size and rate. Nothing here knows about the network."""
from __future__ import annotations

import argparse
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from runtime.errors import InputError
from runtime.frames import IMAGE_SUFFIXES, bgr_to_rgb
from runtime.validate import bitrate as validate_bitrate

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi")
X264_FAMILY = ("libx264", "libx265", "h264", "hevc")
# x264's default "medium" costs ~57 ms of CPU per stylized 640x360 frame (more than the lite net's
# inference); "veryfast" costs 19 ms for the same file size at the same CRF (benchmarks, README Speed)
DEFAULT_PRESET = "veryfast"
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")

# audio codecs each container can hold as they are; anything else is re-encoded
AUDIO_COPY_OK = {
    ".mp4": {"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"}, ".m4v": {"aac", "mp3", "ac3", "alac"},
    ".mov": {"aac", "mp3", "ac3", "alac", "pcm_s16le", "pcm_s24le"}, ".mkv": None,  # None: anything
    ".webm": {"opus", "vorbis"}, ".avi": {"mp3", "ac3", "pcm_s16le"},
}
AUDIO_REENCODE = {".webm": "libopus"}  # default: aac
CONTAINER_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}
DEFAULT_CODECS = {".webm": "libvpx-vp9"}  # default: libx264
FASTSTART = (".mp4", ".m4v", ".mov")  # the index (moov) first, so a browser can play while downloading
FLICKER_FRAMES = 60  # frames of the clip the flicker metrics read (the gate, styles.json)
CFR_ONLY = (".avi",)  # no per-frame timestamps: frames are renumbered at the average rate


def open_input(path: Path):
    import av

    if not path.exists():
        raise InputError(f"input not found: {path}")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise InputError(f"not a readable video: {path} ({exc.__class__.__name__})") from None
    if not container.streams.video:
        container.close()
        raise InputError(f"no video stream in {path}")
    return container


def read_video_frames(path: str | Path, limit: int = FLICKER_FRAMES) -> list[np.ndarray]:
    """The first `limit` frames as RGB uint8, for the flicker metrics (the gate, benchmarks/temporal.py); PyAV, or
    OpenCV where PyAV is absent (a bare GPU box). Missing, unreadable or shorter than two frames: InputError."""
    if not Path(path).is_file():
        raise InputError(f"video not found: {path}")
    frames: list[np.ndarray] = []
    try:
        import av
    except ImportError:
        import cv2

        cap = cv2.VideoCapture(str(path))
        while len(frames) < limit:
            ok, bgr = cap.read()
            if not ok:
                break
            frames.append(bgr_to_rgb(bgr))
        cap.release()
    else:
        try:
            with av.open(str(path)) as container:
                for frame in container.decode(video=0):
                    frames.append(frame.to_ndarray(format="rgb24"))
                    if len(frames) >= limit:
                        break
        except (av.error.FFmpegError, OSError) as exc:
            raise InputError(f"not a readable video: {path} ({exc.__class__.__name__})") from None
    if len(frames) < 2:
        raise InputError(f"{path}: fewer than two frames")
    return frames


def display_rotation(path: Path) -> float:
    """Display rotation (degrees) of the first frame: players apply it; we copy it to the output stream."""
    import av

    try:
        with av.open(str(path)) as c:
            for frame in c.decode(video=0):
                return float(getattr(frame, "rotation", 0) or 0)
    except av.error.FFmpegError:
        pass
    return 0.0


# ---- output container and codec: checked before the first frame is decoded ----

def default_codec(dst: Path) -> str:
    """VP9 for WebM (the only video codecs WebM holds are VP8/VP9/AV1), H.264 for everything else."""
    return DEFAULT_CODECS.get(dst.suffix.lower(), "libx264")


def check_codec(codec: str, dst: Path) -> None:
    """The encoder exists, is a video encoder, and the output's container can hold it; else one line."""
    import av

    suffix = dst.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise InputError(f"output must be a video file ({', '.join(VIDEO_SUFFIXES)}), got {dst.name}")
    try:
        enc = av.Codec(codec, "w")
    except (ValueError, av.error.FFmpegError):
        raise InputError(f"unknown or unavailable video codec '{codec}' (try libx264, libx265, libvpx-vp9, mpeg4)") from None
    if enc.type != "video":
        raise InputError(f"--codec {codec} is an {enc.type} codec; give a video codec such as {default_codec(dst)}")
    with av.open(io.BytesIO(), "w", format=CONTAINER_FORMATS[suffix]) as probe:
        supported = probe.supported_codecs
    if supported and enc.name not in supported and enc.canonical_name not in supported:
        raise InputError(f"a {suffix} file cannot hold {codec} video; use --codec {default_codec(dst)} or another extension")


def choose_pix_fmt(codec: str, width: int, height: int) -> str:
    """4:2:0 where the size allows (odd sizes need 4:4:4), among the formats the encoder takes."""
    import av

    enc = av.Codec(codec, "w")
    formats = [f.name for f in (enc.video_formats or [])]
    even = width % 2 == 0 and height % 2 == 0
    wanted = ["yuv420p", "yuvj420p", "yuv444p", "yuvj444p"] if even else ["yuv444p", "yuvj444p"]
    if enc.canonical_name == "mjpeg":  # JPEG is full range: its limited-range formats need 'strict' mode
        wanted = [w for w in wanted if w.startswith("yuvj")] + wanted
    for name in wanted:
        if not formats or name in formats:
            return name
    if not even:
        raise InputError(f"{codec} cannot encode an odd frame size ({width}x{height}); use libx264 or --max-size")
    return formats[0]


# ---- colour: the input's matrix/range for YUV -> RGB, its tags on the output, HDR tone-mapped ----

HDR_TRANSFERS = {16: "PQ", 18: "HLG"}  # AVCOL_TRC_SMPTE2084, AVCOL_TRC_ARIB_STD_B67
_SWS_MATRIX = {1: 1, 4: 4, 5: 5, 6: 5, 7: 7, 9: 9, 10: 9}  # AVCOL_SPC -> swscale colorspace (170M is 601)
BT709 = (1, 1, 1, 1)  # primaries, transfer, matrix, range (limited)


@dataclass
class Colour:
    """A stream's colour description (FFmpeg's AVCOL_* numbers; 2 = unspecified)."""

    primaries: int = 2
    transfer: int = 2
    matrix: int = 2
    range: int = 0
    bits: int = 8

    @property
    def hdr(self) -> str | None:
        return HDR_TRANSFERS.get(self.transfer)

    @classmethod
    def of(cls, ctx) -> "Colour":
        fmt = getattr(ctx, "format", None)
        bits = max((c.bits for c in fmt.components), default=8) if fmt is not None else 8
        return cls(int(ctx.color_primaries or 2), int(ctx.color_trc or 2), int(ctx.colorspace or 2), int(ctx.color_range or 0), bits)

    def output(self) -> "Colour":
        """What the output is tagged: BT.709 SDR for HDR inputs (they are tone-mapped), the input's own tags otherwise."""
        return Colour(*BT709) if self.hdr else Colour(self.primaries, self.transfer, self.matrix, self.range)

    def tag(self, target) -> None:
        target.color_primaries, target.color_trc = self.primaries, self.transfer
        target.colorspace, target.color_range = self.matrix, self.range


def to_rgb(frame, colour: Colour) -> np.ndarray:
    """Decoded frame -> RGB uint8 with the frame's own matrix and range (HDR is tone-mapped to BT.709 SDR)."""
    if colour.hdr:
        rgb48 = frame.reformat(format="rgb48le", src_color_range=frame.color_range or None).to_ndarray()
        return hdr_to_sdr(rgb48.astype(np.float32) / 65535.0, colour.hdr)
    return frame.reformat(format="rgb24", src_color_range=frame.color_range or None).to_ndarray()


def from_rgb(rgb: np.ndarray, pix_fmt: str, colour: Colour):
    """RGB uint8 -> a frame in the encoder's format, converted with the output's matrix/range and tagged."""
    import av

    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    full = pix_fmt.startswith("yuvj") or colour.range == 2
    out = frame.reformat(format=pix_fmt, dst_colorspace=_SWS_MATRIX.get(colour.matrix),
                         dst_color_range=2 if full else (1 if colour.range == 1 else None))
    colour.tag(out)
    if pix_fmt.startswith("yuvj"):
        out.color_range = 2
    return out


_BT2020_TO_709 = np.array([[1.6605, -0.5876, -0.0728], [-0.1246, 1.1329, -0.0083], [-0.0182, -0.1006, 1.1187]], np.float32)
REFERENCE_WHITE_NITS, HDR_PEAK_NITS, KNEE = 203.0, 1000.0, 0.75  # BT.2408 reference white; 1000-nit mastering


def hdr_to_sdr(rgb: np.ndarray, transfer: str) -> np.ndarray:
    """Non-linear BT.2020 RGB in [0,1] (PQ or HLG) -> BT.709 SDR RGB uint8.
    Light is made relative to reference white (203 nits = SDR white), moved to BT.709 primaries, and
    highlights above KNEE are rolled off into SDR's range (hue kept: one gain per pixel from luminance)."""
    e = np.clip(rgb, 0.0, 1.0)
    if transfer == "PQ":
        m1, m2, c1, c2, c3 = 2610 / 16384, 2523 / 4096 * 128, 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
        p = e ** (1 / m2)
        nits = 10000.0 * (np.maximum(p - c1, 0) / (c2 - c3 * p)) ** (1 / m1)
    else:  # HLG: inverse OETF to scene light, then the BT.2100 OOTF for a 1000-nit display (gamma 1.2)
        a, b = 0.17883277, 0.28466892
        c = 0.5 - a * np.log(4 * a)
        scene = np.where(e <= 0.5, e * e / 3, (np.exp((e - c) / a) + b) / 12)
        ys = scene @ np.array([0.2627, 0.6780, 0.0593], np.float32)
        nits = HDR_PEAK_NITS * (np.maximum(ys, 1e-6) ** 0.2)[..., None] * scene
    lin = np.maximum((nits / REFERENCE_WHITE_NITS) @ _BT2020_TO_709.T, 0.0)
    y = lin @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    w = (HDR_PEAK_NITS / REFERENCE_WHITE_NITS - KNEE) / (1 - KNEE)
    x = np.maximum(y - KNEE, 0) / (1 - KNEE)
    mapped = np.where(y > KNEE, KNEE + (1 - KNEE) * x * (1 + x / (w * w)) / (1 + x), y)
    lin = np.clip(lin * (mapped / np.maximum(y, 1e-6))[..., None], 0.0, 1.0)
    return np.clip(lin ** (1 / 2.4) * 255.0 + 0.5, 0, 255).astype(np.uint8)  # BT.1886 display gamma


# ---- timestamps ----

class Timeline:
    """Keeps one stream's timestamps as they are while they increase; where they jump back (concatenated
    MPEG-TS) or repeat, the rest is shifted to continue one step after the last, so muxers accept them."""

    def __init__(self, step: int):
        self.step, self.offset, self.last, self.jumps = max(1, step), 0, None, 0

    def __call__(self, ts: int | None) -> int:
        if ts is None:
            out = self.step if self.last is None else self.last + self.step
        else:
            out = ts + self.offset
        if self.last is not None and out <= self.last:
            self.offset += self.last + self.step - out
            out, self.jumps = self.last + self.step, self.jumps + 1
        self.last = out
        return out


def video_stream(out, codec: str, rate, width: int, height: int, crf: int | None, bitrate: str | int | None,
                  preset: str | None = DEFAULT_PRESET):
    """The output video stream and its pixel format: CRF or a bitrate, x264 preset."""
    import av

    try:
        stream = out.add_stream(codec, rate=rate)
    except (av.error.FFmpegError, ValueError) as exc:
        raise InputError(f"unknown or unavailable video codec '{codec}' ({exc})") from None
    stream.width, stream.height = width, height
    stream.pix_fmt = choose_pix_fmt(codec, width, height)
    options = {}
    if bitrate:
        stream.bit_rate = parse_bitrate(bitrate)
    elif crf is not None and codec in X264_FAMILY:
        options["crf"] = str(crf)
    elif crf is not None and codec in ("libvpx-vp9", "libvpx"):
        options.update(crf=str(min(crf + 13, 63)), b="0")  # x264's 18 is about VP9's 31 (similar quality)
    if preset and codec in X264_FAMILY:
        options["preset"] = preset
    if codec == "libx265":
        options["x265-params"] = "log-level=error"
    stream.options = options
    return stream, stream.pix_fmt


def mux_options(dst: Path) -> dict:
    """MP4/MOV: the index first (faststart). Matroska stores negative timestamps (AAC priming), so the
    muxer must not shift every stream forward to avoid them: that moved MKV video by ~23 ms."""
    suffix = dst.suffix.lower()
    if suffix in FASTSTART:
        return {"movflags": "+faststart"}
    if suffix in (".mkv", ".webm"):
        return {"avoid_negative_ts": "disabled"}
    return {}


def start_encoding(out, codec: str) -> None:
    """Open the encoders and write the header now, so settings a codec refuses are said before any decoding."""
    import av

    try:
        out.start_encoding()
    except av.error.FFmpegError as exc:
        if isinstance(exc, OSError) and exc.errno in (28, 27, 122):  # ENOSPC, EFBIG, EDQUOT: cli_entry says it
            raise
        raise InputError(f"the {codec} encoder refused these settings ({exc.strerror or exc}); try --codec libx264") from None


def parse_bitrate(text: str | int) -> int:
    if isinstance(text, int):
        return text
    try:
        return validate_bitrate(text)
    except argparse.ArgumentTypeError as exc:
        raise InputError(f"bad --bitrate: {exc}") from None


def frame_size_and_rate(src: Path) -> tuple[tuple[int, int] | None, float | None]:
    """(height, width) and frame rate of a video or image input, read from headers only (None when unknown)."""
    if src.is_dir():
        return None, None
    if src.suffix.lower() in IMAGE_SUFFIXES:
        import cv2

        img = cv2.imread(str(src), cv2.IMREAD_REDUCED_GRAYSCALE_2)  # cheap: only the size is needed
        return ((img.shape[0] * 2, img.shape[1] * 2) if img is not None else None), None
    import av

    try:
        with av.open(str(src)) as c:
            v = c.streams.video[0]
            rate = v.average_rate or v.guessed_rate
            return (v.codec_context.height, v.codec_context.width), (float(rate) if rate else None)
    except (av.error.FFmpegError, OSError, IndexError):
        return None, None  # stylize_video reports it properly
