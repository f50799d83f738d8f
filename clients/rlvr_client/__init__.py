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
from .models import (
    Component,
    ItemResult,
    RewardSpec,
    RunRequest,
    RunResponse,
    RunStatus,
    ScoreItem,
    ScoreRequest,
    ScoreResponse,
    Status,
)
from .trl import RewardFunction, TRLReward, reward_function, reward_functions, reward_weights

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
    "RewardFunction",
    "RewardSpec",
    "RunRequest",
    "RunResponse",
    "RunStatus",
    "ScoreItem",
    "ScoreRequest",
    "ScoreResponse",
    "Status",
    "TRLReward",
    "TransportError",
    "Unavailable",
    "UnknownVerifier",
    "reward_function",
    "reward_functions",
    "reward_weights",
]
