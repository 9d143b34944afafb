"""Model services' wire shapes: the local models (8050-8052) and the vendor adapters (8100-8103), API-CONTRACT
§12; and the two config files that declare them (config/models.json, config/adapters.json)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.common import ID_PATTERN, MAX_SAFE_INT, Body, FiniteFloat, Request, SafeInt
from contracts.gateway import ChatCompletionRequest

ModelStatus = Literal["healthy", "degraded", "unhealthy"]
FinishReason = Literal["stop", "length", "content_filter", "tool_calls"]

# ---- configuration ------------------------------------------------------------------------------------------


class ModelConfig(BaseModel):
    """One local model in config/models.json."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9_]{1,64}$", description="service id and name; the file's name too")
    model: str = Field(min_length=1, max_length=100, description="the model's own name, e.g. llama-3.1-8b")
    port: int = Field(ge=1, le=65535)
    kind: Literal["chat", "classifier"] = "chat"
    file: str = Field(min_length=1, max_length=200, description="GGUF file looked up in PAS_MODELS_DIR")
    fallback_files: list[str] = Field(default_factory=list, description="tried in order when `file` is absent")
    context_length: int = Field(default=2048, ge=64, le=1_048_576)
    threads: int | None = Field(default=None, ge=1, le=256)
    gpu_layers: int = Field(default=0, ge=-1, le=1000)
    chat_format: str | None = Field(default=None, max_length=50, description="llama.cpp chat format; None: the file's")
    capabilities: list[str] = Field(min_length=1)
    parameters: str | None = Field(default=None, description="what the shipped entry expects, e.g. 8B")
    quantization: str | None = None
    memory_mb: int = Field(default=1024, ge=1, description="reserved with the resource manager while loaded")
    price_per_token: float = Field(default=0.0, ge=0)
    heartbeat_interval_s: int = Field(default=2, ge=1, le=3600)


class ModelsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    models: list[ModelConfig]


class AdapterConfig(BaseModel):
    """One vendor adapter in config/adapters.json (the pricing table)."""

    model_config = ConfigDict(extra="forbid")
    provider: Literal["openai", "anthropic", "gemini", "grok"]
    model: str = Field(min_length=1, max_length=100)
    port: int = Field(ge=1, le=65535)
    context_window: int = Field(ge=1)
    cost_per_input_token: float = Field(ge=0)
    cost_per_output_token: float = Field(ge=0)
    capabilities: list[str] = Field(min_length=1)
    key_env: list[str] = Field(min_length=1, description="the first one set is used")
    base_url_env: str
    default_base_url: str
    heartbeat_interval_s: int = Field(default=2, ge=1, le=3600)

    @property
    def name(self) -> str:
        return f"{self.provider}-{self.model}"


class AdaptersFile(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    comment: str | None = Field(default=None, alias="_comment")
    adapters: list[AdapterConfig]


# ---- requests -----------------------------------------------------------------------------------------------


class ChatMessage(Request):
    model_config = ConfigDict(extra="forbid", strict=True)
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = Field(default=None, max_length=10_000_000)
    name: str | None = Field(default=None, max_length=200, pattern=ID_PATTERN)
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = Field(default=None, max_length=200)
    function_call: dict[str, Any] | None = None
    refusal: str | None = None


class ModelChatRequest(ChatCompletionRequest):
    """POST /chat/completions on a model's port: the gateway's OpenAI body, as it forwards it (`model` is
    ignored: the port picks the model)."""

    model: str | None = Field(default=None, max_length=200)  # type: ignore[assignment]
    messages: list[ChatMessage] = Field(min_length=1, max_length=10_000)  # type: ignore[assignment]


class GenerateOptions(Request):
    model_config = ConfigDict(extra="forbid", strict=True)
    temperature: FiniteFloat | None = Field(default=None, ge=0, le=2)
    top_p: FiniteFloat | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=0, le=1000)
    num_predict: int | None = Field(default=None, ge=-1, le=1_000_000)
    seed: SafeInt | None = Field(default=None, ge=-MAX_SAFE_INT)
    stop: list[str] | None = Field(default=None, max_length=16)
    repeat_penalty: FiniteFloat | None = Field(default=None, ge=0, le=10)
    presence_penalty: FiniteFloat | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: FiniteFloat | None = Field(default=None, ge=-2, le=2)
    num_ctx: int | None = Field(default=None, ge=1, le=1_048_576, description="accepted; the loaded context rules")


class GenerateRequest(Request):
    """POST /generate (Ollama's shape)."""

    prompt: str = Field(max_length=10_000_000)
    model: str | None = Field(default=None, max_length=200)
    system: str | None = Field(default=None, max_length=1_000_000)
    stream: bool = False
    format: Literal["json"] | dict[str, Any] | None = None
    options: GenerateOptions | None = None
    raw: bool = False
    keep_alive: (
        Annotated[str, Field(max_length=100)] | Annotated[int, Field(ge=-MAX_SAFE_INT, le=MAX_SAFE_INT)] | None
    ) = None  # accepted; a model stays loaded while its worker lives


class ClassifyDomainRequest(Request):
    query: str = Field(min_length=1, max_length=20_000)
    top_k: int = Field(default=3, ge=1, le=10)
    context_docs: list[str] | None = Field(default=None, max_length=20)


class ExtractTmdRequest(Request):
    query: str = Field(min_length=1, max_length=20_000)
    context_docs: list[str] | None = Field(default=None, max_length=20)
    method_hint: Literal["DENSE", "SPARSE", "HYBRID", "GRAPH"] | None = None


# ---- responses ----------------------------------------------------------------------------------------------


class ModelHealth(Body):
    status: ModelStatus
    service: str
    port: int
    model: str
    model_loaded: bool
    uptime_seconds: float
    last_request_ms: float | None = None
    reason: str | None = None
    provider: str | None = None  # adapters
    api_key_present: bool | None = None  # adapters


class LocalModelFacts(Body):
    name: str
    parameters: str | None
    quantization: str | None
    context_length: int
    file: str | None = None
    architecture: str | None = None
    vocab_size: int | None = None
    file_bytes: int | None = None


class Performance(Body):
    requests: int = 0
    tokens_per_second: float | None = None
    first_token_ms: float | None = None
    latency_ms_p50: float | None = None


class LocalModelInfo(Body):
    service_name: str
    version: str
    model: LocalModelFacts
    capabilities: list[str]
    performance: Performance
    endpoints: list[str]


class AdapterModelFacts(Body):
    name: str
    provider: str
    context_window: int
    cost_per_input_token: float
    cost_per_output_token: float
    capabilities: list[str]


class AdapterInfo(Body):
    service_name: str
    version: str
    provider: str
    model: AdapterModelFacts
    performance: Performance
    endpoints: list[str]


class GenerateResponse(Body):
    model: str
    created_at: str
    response: str
    done: bool
    done_reason: str | None = None
    prompt_eval_count: int | None = None
    eval_count: int | None = None
    total_duration: int | None = None  # nanoseconds, as Ollama
    eval_duration: int | None = None


class DomainScore(Body):
    domain: str
    confidence: float


class ClassifyDomainResponse(Body):
    query: str
    domains: list[DomainScore]
    primary_domain: str
    pii_flag: bool
    license_flag: bool
    metadata: dict[str, Any]


class Tmd(Body):
    task: str
    method: Literal["DENSE", "SPARSE", "HYBRID", "GRAPH"]
    domain: str


class ExtractTmdResponse(Body):
    query: str
    tmd: Tmd
    confidence: float
    metadata: dict[str, Any]


class ChatCompletionBody(Body):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[dict[str, Any]]
    usage: dict[str, int]


class AdapterEndpoints(Body):
    chat: str
    health: str
    info: str
    docs: str


class AdapterIndex(Body):
    """GET / on an adapter's port (API-CONTRACT §12)."""

    service: str
    version: str
    port: int
    status: ModelStatus
    provider: str
    model: str
    endpoints: AdapterEndpoints
    docs: str
