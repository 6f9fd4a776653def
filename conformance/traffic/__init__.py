"""The traffic wing: recorded exchanges read from files, one small adapter per recording format."""

from conformance.traffic.read import (
    TrafficError,
    detect_api,
    dump_exchange,
    match_operation,
    read_traffic,
    recorded_api_version,
    traffic_files,
)

__all__ = [
    "TrafficError",
    "detect_api",
    "dump_exchange",
    "match_operation",
    "read_traffic",
    "recorded_api_version",
    "traffic_files",
]
