"""Bad-data checks and the report that lists what was left out and why.

Real datasets hold bad records (Oxford-IIIT Pet has 12 corrupt JPEGs; users' own data has more).
A bad record must never reach Transform, where a decoder error would kill the whole run with a
stack trace. Bad records are left out, counted per reason and named in the report; the run
fails only when their share exceeds the configured maximum, or when a split is left with no
usable record. What was unusual but usable (comment lines, a byte-order mark, a palette trimap,
a photo stored rotated) is kept and counted as a note, so a person sees it. Pure Python, so the
CLI can import it without TensorFlow.
"""

import dataclasses
from typing import Dict, Iterable, List, Optional

REASONS = {
    "missing_image": "list entry whose image file is missing",
    "missing_mask": "list entry whose mask file is missing",
    "unreadable_annotation": "list entry whose head-box annotation does not parse",
    "malformed_list_line": "list line that does not read '<name> <class> <species> <breed id>', "
    "with a class id in 1..37 and the species of that class, or that repeats a name",
    "undecodable_image": "image that does not decode (corrupt, truncated or not an image)",
    "undecodable_mask": "mask that does not decode or is not single-channel",
    "mask_size_mismatch": "mask of another size than its image",
    "unknown_mask_values": "mask with values outside the dataset's labels",
}


# Kept, but worth knowing: how many entries or records each of these concerned.
NOTES = {
    "blank_lines": "blank lines in a list file, read past",
    "comment_lines": "'#' comment lines in a list file (as in the real list.txt), read past",
    "byte_order_marks": "list files starting with a UTF-8 byte-order mark, read past",
    "breed_column_other_numbering": "list lines whose 4th column (breed id) follows another "
    "numbering; TFDS's builder never reads it",
    "names_with_spaces": "names with spaces, staged under an escaped name for TFDS's builder and "
    "reported whole",
    "masks_palette_indices": "palette trimaps, read by palette index (how trimap values are stored)",
    "masks_16_bit": "16-bit trimaps, read as their values",
    "images_exif_oriented": "photos stored rotated with an EXIF orientation, read as displayed",
}


class DataQualityError(RuntimeError):
    """More of the data is bad than the configured maximum share, or a split has none usable."""


@dataclasses.dataclass(frozen=True)
class BadRecord:
    """One record left out: which file, why (a key of REASONS), and the details."""

    file_name: str
    reason: str
    detail: str
    split: str = ""


@dataclasses.dataclass
class QualityReport:
    """Counts of good and bad records per split, and every bad record by reason."""

    good: Dict[str, int]
    bad: List[BadRecord]
    max_bad_fraction: float
    notes: Dict[str, int] = dataclasses.field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.good.values()) + len(self.bad)

    @property
    def bad_fraction(self) -> float:
        return len(self.bad) / self.total if self.total else 0.0

    @property
    def empty_splits(self) -> List[str]:
        """Splits with no usable record: nothing could train, validate or score on them."""
        return sorted(split for split, count in self.good.items() if not count)

    @property
    def passed(self) -> bool:
        return self.total > 0 and self.bad_fraction <= self.max_bad_fraction and not self.empty_splits

    def by_reason(self) -> Dict[str, List[BadRecord]]:
        grouped: Dict[str, List[BadRecord]] = {}
        for record in sorted(self.bad, key=lambda r: (r.reason, r.split, r.file_name)):
            grouped.setdefault(record.reason, []).append(record)
        return grouped

    def to_dict(self) -> dict:
        return {
            "total": self.total,
            "good": sum(self.good.values()),
            "good_per_split": dict(sorted(self.good.items())),
            "bad": len(self.bad),
            "bad_fraction": round(self.bad_fraction, 6),
            "max_bad_fraction": self.max_bad_fraction,
            "passed": self.passed,
            "empty_splits": self.empty_splits,
            "notes": {
                kind: {"count": count, "description": NOTES[kind]}
                for kind, count in sorted(self.notes.items())
            },
            "bad_by_reason": {
                reason: {
                    "count": len(records),
                    "description": REASONS[reason],
                    "records": [
                        {"file_name": r.file_name, "split": r.split, "detail": r.detail} for r in records
                    ],
                }
                for reason, records in self.by_reason().items()
            },
        }

    def summary(self) -> str:
        """A few lines for the log: totals, then a count per reason with the first files."""
        lines = [
            f"data quality: {self.total} records, {len(self.bad)} bad "
            f"({self.bad_fraction:.2%}, allowed {self.max_bad_fraction:.2%})"
        ]
        for reason, records in self.by_reason().items():
            names = ", ".join(r.file_name for r in records[:5]) + (" ..." if len(records) > 5 else "")
            lines.append(f"  {reason}: {len(records)} ({names})")
        for kind, count in sorted(self.notes.items()):
            lines.append(f"  kept, noted: {kind}: {count}")
        return "\n".join(lines)

    def reasons_line(self, split: Optional[str] = None) -> str:
        """'undecodable_image 2, missing_mask 1': the bad records' reasons (of one split) by count."""
        counts: Dict[str, int] = {}
        for record in self.bad:
            if split is None or record.split == split:
                counts[record.reason] = counts.get(record.reason, 0) + 1
        return ", ".join(
            f"{reason} {count}" for reason, count in sorted(counts.items(), key=lambda kv: -kv[1])
        )

    def failure_message(self, report_path: str) -> str:
        """One line: why the gate stopped the run, and where the report is."""
        if not self.total:
            return f"no records found; report: {report_path}"
        if self.empty_splits:
            split = self.empty_splits[0]
            bad = [r for r in self.bad if r.split == split]
            why = f"all {len(bad)} are bad ({self.reasons_line(split)})" if bad else "it lists none"
            return f"split {split!r} has no usable record: {why}; report: {report_path}"
        return (
            f"{len(self.bad)} of {self.total} records ({self.bad_fraction:.1%}) are bad, more "
            f"than the allowed {self.max_bad_fraction:.1%} (--max-bad-fraction): {self.reasons_line()}; "
            f"report: {report_path}"
        )


def records_from_dicts(items: Iterable[dict]) -> List[BadRecord]:
    return [BadRecord(**item) for item in items]
