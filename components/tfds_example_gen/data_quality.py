"""Bad-data checks and the report that lists what was left out and why.

Real datasets hold bad records (Oxford-IIIT Pet has 12 corrupt JPEGs; users' own data has more).
A bad record must never reach Transform, where a decoder error would kill the whole run with a
stack trace. Bad records are left out, counted per reason and named in the report; the run
fails only when their share exceeds the configured maximum. Pure Python, so the CLI can import
it without TensorFlow.
"""

import dataclasses
from typing import Dict, Iterable, List

REASONS = {
    "missing_image": "list entry whose image file is missing",
    "missing_mask": "list entry whose mask file is missing",
    "unreadable_annotation": "list entry whose head-box annotation does not parse",
    "malformed_list_line": "list line that does not read '<name> <class> <species> <breed id>'",
    "undecodable_image": "image that does not decode (corrupt, truncated or not an image)",
    "undecodable_mask": "mask that does not decode or is not single-channel",
    "mask_size_mismatch": "mask of another size than its image",
    "unknown_mask_values": "mask with values outside the dataset's labels",
}


class DataQualityError(RuntimeError):
    """More of the data is bad than the configured maximum share."""


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

    @property
    def total(self) -> int:
        return sum(self.good.values()) + len(self.bad)

    @property
    def bad_fraction(self) -> float:
        return len(self.bad) / self.total if self.total else 0.0

    @property
    def passed(self) -> bool:
        return self.total > 0 and self.bad_fraction <= self.max_bad_fraction

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
        return "\n".join(lines)

    def failure_message(self, report_path: str) -> str:
        if not self.total:
            return f"no records found; see {report_path}"
        return (
            f"{len(self.bad)} of {self.total} records ({self.bad_fraction:.1%}) are bad, more "
            f"than the allowed {self.max_bad_fraction:.1%} (--max-bad-fraction); "
            f"details in {report_path}\n{self.summary()}"
        )


def records_from_dicts(items: Iterable[dict]) -> List[BadRecord]:
    return [BadRecord(**item) for item in items]
