"""Client side of rlvr-stack: the v1 wire models, the error tree, sync/async clients, TRL adapter."""

from .client import AsyncRewardClient, RetryPolicy, RewardClient
from .errors import (
    InternalError,
    InvalidRequest,
    NotReady,
    Overloaded,
    PayloadTooLarge,
    RLVRError,
    TransportError,
    Unavailable,
    UnknownVerifier,
)
from .models import Component, ItemResult, RewardSpec, ScoreItem, ScoreRequest, ScoreResponse, Status

__all__ = [
    "AsyncRewardClient",
    "Component",
    "InternalError",
    "InvalidRequest",
    "ItemResult",
    "NotReady",
    "Overloaded",
    "PayloadTooLarge",
    "RLVRError",
    "RetryPolicy",
    "RewardClient",
    "RewardSpec",
    "ScoreItem",
    "ScoreRequest",
    "ScoreResponse",
    "Status",
    "TransportError",
    "Unavailable",
    "UnknownVerifier",
]
