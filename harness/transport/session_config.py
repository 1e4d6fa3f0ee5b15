"""The session config: what ``session.update`` carries (reference: clientMessages.ts and
``_getMergedSessionConfig`` in openaiRealtimeBase.ts).

Callers may spell keys as the reference does (camelCase) or as the API does
(snake_case); :func:`snake_session_config` turns the first into the second at once
(where both spellings of a key are given, camelCase wins, as before), and everything
after that is snake_case, as on the wire.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from harness._json import JSONObject
from harness.errors import UsageError
from harness.transport._js import UNSET, coalesce, drop_unset, is_truthy, lookup

__all__ = [
    "DEFAULT_OPENAI_REALTIME_MODEL",
    "DEFAULT_OPENAI_REALTIME_SESSION_CONFIG",
    "audio_rate",
    "build_session_payload",
    "snake_session_config",
]

DEFAULT_OPENAI_REALTIME_MODEL: Final = "gpt-realtime-2.1"
"""The model used when none is given (reference: openaiRealtimeBase.ts)."""

DEFAULT_OPENAI_REALTIME_SESSION_CONFIG: Final[Mapping[str, Any]] = {
    "outputModalities": ["audio"],
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "transcription": {"model": "gpt-4o-mini-transcribe"},
            "turnDetection": {"type": "semantic_vad"},
            "noiseReduction": None,
        },
        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "speed": 1},
    },
}
"""The session config sent on connect unless overridden (the reference's, camelCase)."""

# The reference's camelCase spellings and the API's, where they differ.
_TOP_LEVEL_CAMEL: Final = {
    "outputModalities": "output_modalities",
    "toolChoice": "tool_choice",
    "parallelToolCalls": "parallel_tool_calls",
    "providerData": "provider_data",
    "inputAudioFormat": "input_audio_format",
    "outputAudioFormat": "output_audio_format",
    "inputAudioTranscription": "input_audio_transcription",
    "turnDetection": "turn_detection",
    "inputAudioNoiseReduction": "input_audio_noise_reduction",
}
_AUDIO_INPUT_CAMEL: Final = {"noiseReduction": "noise_reduction", "turnDetection": "turn_detection"}
_PROMPT_CAMEL: Final = {"promptId": "prompt_id"}


def audio_rate(fmt: Any) -> tuple[int, Any]:
    """How an output audio format turns bytes into milliseconds: ``(divisor, rate)``.

    ``ms = bytes / divisor``, or with a divisor of 0, ``(bytes / 2 / rate) * 1000`` for
    PCM at ``rate``: the reference's arithmetic (openaiRealtimeBase.ts, the audio length
    in ``_onMessage``), whose ``bytes / 24 / 2`` is exactly ``bytes / 48`` (halving a
    float is exact). GA formats are ``{"type": "audio/pcm", "rate": ...}``,
    ``{"type": "audio/pcmu"}`` and so on; older ones the strings ``"pcm16"``,
    ``"g711_ulaw"``...
    """
    if type(fmt) is dict:
        kind = fmt.get("type")
        if kind in ("audio/pcmu", "audio/pcma"):
            return 8, None
        if kind == "audio/pcm":
            return 0, coalesce(fmt.get("rate"), 24000)
    elif isinstance(fmt, str) and fmt.startswith("g711_"):
        return 8, None
    return 48, None


def _snake_keys(obj: Mapping[str, Any], table: Mapping[str, str]) -> JSONObject:
    """Rename the reference's camelCase keys to snake_case; camelCase wins when both."""
    out = dict(obj)
    for camel, snake in table.items():
        if camel in out:
            out[snake] = out.pop(camel)
    return out


def snake_session_config(config: Mapping[str, Any]) -> JSONObject:
    """``config`` with the reference's camelCase keys in the API's snake_case.

    Raises:
        UsageError: ``config`` is not a mapping.
    """
    if not isinstance(config, Mapping):
        raise UsageError(f"session config must be a mapping, got {type(config).__name__}")
    out = _snake_keys(config, _TOP_LEVEL_CAMEL)
    audio = out.get("audio")
    if isinstance(audio, Mapping):
        audio = dict(audio)
        if isinstance(audio.get("input"), Mapping):
            audio["input"] = _snake_keys(audio["input"], _AUDIO_INPUT_CAMEL)
        out["audio"] = audio
    prompt = out.get("prompt")
    if isinstance(prompt, Mapping):
        out["prompt"] = _snake_keys(prompt, _PROMPT_CAMEL)
    return out


def _normalize_audio_format(fmt: Any) -> Any:
    # reference: clientMessages.ts, normalizeAudioFormat
    if not is_truthy(fmt):
        return UNSET
    if isinstance(fmt, Mapping):
        rate = fmt.get("rate")
        if fmt.get("type") == "audio/pcm" and isinstance(rate, float) and not math.isfinite(rate):
            return {"type": "audio/pcm", "rate": 24000}
        return fmt
    text = str(fmt)
    if text == "g711_ulaw":
        return {"type": "audio/pcmu"}
    if text == "g711_alaw":
        return {"type": "audio/pcma"}
    return {"type": "audio/pcm", "rate": 24000}


_DEPRECATED_KEYS: Final = (
    "modalities",
    "input_audio_format",
    "output_audio_format",
    "input_audio_transcription",
    "turn_detection",
    "input_audio_noise_reduction",
    "speed",
)


def _to_new_session_config(config: Mapping[str, Any]) -> JSONObject:
    # reference: clientMessages.ts, toNewSessionConfig
    g = config.get
    common = {
        "model": g("model", UNSET),
        "instructions": g("instructions", UNSET),
        "tool_choice": g("tool_choice", UNSET),
        "tools": g("tools", UNSET),
        "parallel_tool_calls": g("parallel_tool_calls", UNSET),
        "reasoning": g("reasoning", UNSET),
        "tracing": g("tracing", UNSET),
        "provider_data": g("provider_data", UNSET),
        "prompt": g("prompt", UNSET),
    }
    if not any(key in config for key in _DEPRECATED_KEYS):
        audio_input = coalesce(lookup(g("audio", UNSET), "input"), UNSET)
        audio_output = coalesce(lookup(g("audio", UNSET), "output"), UNSET)
        input_config: Any = UNSET
        if is_truthy(audio_input):
            input_config = {
                "format": _normalize_audio_format(lookup(audio_input, "format")),
                "noise_reduction": coalesce(lookup(audio_input, "noise_reduction"), None),
                "transcription": lookup(audio_input, "transcription"),
                "turn_detection": lookup(audio_input, "turn_detection"),
            }
        voice = coalesce(lookup(audio_output, "voice"), g("voice", UNSET))
        output_config: Any = UNSET
        if is_truthy(audio_output) or voice is not UNSET:
            output_config = {
                "format": _normalize_audio_format(lookup(audio_output, "format")),
                "voice": voice,
                "speed": lookup(audio_output, "speed"),
            }
        audio: Any = UNSET
        if is_truthy(input_config) or is_truthy(output_config):
            audio = {"input": input_config, "output": output_config}
        return {**common, "output_modalities": g("output_modalities", UNSET), "audio": audio}
    return {
        **common,
        "output_modalities": g("modalities", UNSET),
        "audio": {
            "input": {
                "format": _normalize_audio_format(g("input_audio_format", UNSET)),
                "noise_reduction": coalesce(g("input_audio_noise_reduction", UNSET), None),
                "transcription": g("input_audio_transcription", UNSET),
                "turn_detection": g("turn_detection", UNSET),
            },
            "output": {
                "format": _normalize_audio_format(g("output_audio_format", UNSET)),
                "voice": g("voice", UNSET),
                "speed": g("speed", UNSET),
            },
        },
    }


_TURN_DETECTION_NAMED: Final = (
    ("create_response", "createResponse"),
    ("eagerness", None),
    ("interrupt_response", "interruptResponse"),
    ("prefix_padding_ms", "prefixPaddingMs"),
    ("silence_duration_ms", "silenceDurationMs"),
    ("idle_timeout_ms", "idleTimeoutMs"),
    ("model_version", "modelVersion"),
    ("threshold", None),
)


def _build_turn_detection_config(config: Any) -> Any:
    # reference: openaiRealtimeBase.ts, buildTurnDetectionConfig
    if config is UNSET:
        return UNSET
    if config is None:
        return None
    if not isinstance(config, Mapping):
        raise UsageError(f"turn detection config must be a mapping, got {config!r}")
    named = {"type"}
    out: JSONObject = {"type": config.get("type", UNSET)}
    for snake, camel in _TURN_DETECTION_NAMED:
        named.add(snake)
        if camel is None:
            out[snake] = config.get(snake, UNSET)
        else:
            named.add(camel)
            out[snake] = coalesce(config.get(camel, UNSET), config.get(snake, UNSET))
    for key, value in config.items():
        if key not in named:
            out[key] = value
    out = {k: v for k, v in out.items() if v is not UNSET}
    return out if out else UNSET


# reference: agents-core utils/mcpApproval.ts, normalizeHostedMcpRequireApproval


def _invalid_require_approval(message: str) -> UsageError:
    return UsageError(f"Invalid hosted MCP requireApproval: {message}")


def _normalize_approval_filter(value: Any, path: str) -> JSONObject:
    if not isinstance(value, Mapping):
        raise _invalid_require_approval(f"{path} must be an object with toolNames or readOnly.")
    allowed = {"toolNames", "tool_names", "readOnly", "read_only"}
    unknown = [k for k in value if k not in allowed]
    if unknown:
        raise _invalid_require_approval(f'{path} has unsupported key "{unknown[0]}".')
    if "toolNames" in value and "tool_names" in value:
        raise _invalid_require_approval(f"{path} must not specify both toolNames and tool_names.")
    if "readOnly" in value and "read_only" in value:
        raise _invalid_require_approval(f"{path} must not specify both readOnly and read_only.")
    out: JSONObject = {}
    names = coalesce(value.get("toolNames", UNSET), value.get("tool_names", UNSET))
    if names is not UNSET and names is not None and not isinstance(names, list):
        raise _invalid_require_approval(f"{path}.toolNames must be an array.")
    if isinstance(names, list):
        if any(not isinstance(n, str) or not n for n in names):
            raise _invalid_require_approval(
                f"{path}.toolNames must contain only non-empty strings."
            )
        out["tool_names"] = list(names)
    read_only = coalesce(value.get("readOnly", UNSET), value.get("read_only", UNSET))
    if read_only is not UNSET and read_only is not None:
        if not isinstance(read_only, bool):
            raise _invalid_require_approval(f"{path}.readOnly must be a boolean.")
        out["read_only"] = read_only
    if not out:
        raise _invalid_require_approval(f"{path} must include toolNames or readOnly.")
    return out


def _normalize_require_approval(value: Any) -> Any:
    if value is UNSET:
        return "never"
    if isinstance(value, str):
        if value in ("always", "never"):
            return value
        raise _invalid_require_approval(f'string value must be "always" or "never", got "{value}".')
    if not isinstance(value, Mapping):
        raise _invalid_require_approval(
            'value must be "always", "never", or an object with always/never filters.'
        )
    if not value:
        raise _invalid_require_approval(
            "object value must include at least one of always or never."
        )
    unknown = [k for k in value if k not in ("always", "never")]
    if unknown:
        raise _invalid_require_approval(f'object value has unsupported key "{unknown[0]}".')
    out: JSONObject = {}
    if value.get("always", UNSET) is not UNSET:
        out["always"] = _normalize_approval_filter(value["always"], "always")
    if value.get("never", UNSET) is not UNSET:
        out["never"] = _normalize_approval_filter(value["never"], "never")
    always = set(out.get("always", {}).get("tool_names", ()))
    for name in out.get("never", {}).get("tool_names", ()):
        if name in always:
            raise _invalid_require_approval(
                f'tool "{name}" cannot be listed in both always and never.'
            )
    return out


def _session_tool(tool: Any) -> JSONObject:
    if not isinstance(tool, Mapping):
        raise UsageError(f"a tool must be a mapping, got {type(tool).__name__}")
    g = tool.get
    if g("type") == "mcp":
        require = g("require_approval", UNSET)
        out = {
            "type": "mcp",
            "server_label": g("server_label", UNSET),
            "server_url": g("server_url", UNSET),
            "server_description": g("server_description", UNSET),
            "connector_id": g("connector_id", UNSET),
            "authorization": g("authorization", UNSET),
            "headers": g("headers", UNSET),
            "allowed_tools": g("allowed_tools", UNSET),
            "require_approval": UNSET if require is UNSET else _normalize_require_approval(require),
        }
    else:
        out = {
            "type": g("type", UNSET),
            "name": g("name", UNSET),
            "description": g("description", UNSET),
            "parameters": g("parameters", UNSET),
        }
    return {k: v for k, v in out.items() if v is not UNSET}


def build_session_payload(config: Mapping[str, Any], model: str) -> JSONObject:
    """The ``session`` of a ``session.update``: ``config`` merged with the defaults.

    reference: openaiRealtimeBase.ts, _getMergedSessionConfig. ``model`` is used when
    ``config`` names none. Tracing is left out on purpose: setting it on every
    ``session.update`` can fail.
    """
    new = _to_new_session_config(snake_session_config(config))
    audio_input = lookup(new["audio"], "input")
    audio_output = lookup(new["audio"], "output")
    noise_reduction = lookup(audio_input, "noise_reduction")
    transcription = lookup(audio_input, "transcription")
    turn_detection = _build_turn_detection_config(lookup(audio_input, "turn_detection"))
    session: JSONObject = {
        "type": "realtime",
        "instructions": new["instructions"],
        "model": coalesce(new["model"], model),
        "output_modalities": coalesce(new["output_modalities"], _default("output_modalities")),
        "audio": {
            "input": {
                "format": coalesce(
                    lookup(audio_input, "format"), _default("audio", "input", "format")
                ),
                "noise_reduction": _default("audio", "input", "noise_reduction")
                if noise_reduction is UNSET
                else noise_reduction,
                "transcription": _default("audio", "input", "transcription")
                if transcription is UNSET
                else transcription,
                "turn_detection": _default("audio", "input", "turn_detection")
                if turn_detection is UNSET
                else turn_detection,
            },
            "output": {
                "format": coalesce(
                    lookup(audio_output, "format"), _default("audio", "output", "format")
                ),
                "voice": coalesce(
                    lookup(audio_output, "voice"), _default("audio", "output", "voice")
                ),
                "speed": coalesce(
                    lookup(audio_output, "speed"), _default("audio", "output", "speed")
                ),
            },
        },
        "tool_choice": coalesce(new["tool_choice"], _default("tool_choice")),
    }
    if new["parallel_tool_calls"] is not UNSET:
        session["parallel_tool_calls"] = new["parallel_tool_calls"]
    if is_truthy(new["reasoning"]):
        session["reasoning"] = new["reasoning"]
    provider_data = coalesce(new["provider_data"], {})
    if isinstance(provider_data, Mapping):
        session.update(provider_data)
    prompt = new["prompt"]
    if is_truthy(prompt):
        session["prompt"] = {
            "id": lookup(prompt, "prompt_id"),
            "version": lookup(prompt, "version"),
            "variables": lookup(prompt, "variables"),
        }
    tools = new["tools"]
    if is_truthy(tools) and isinstance(tools, Sequence) and len(tools) > 0:
        session["tools"] = [_session_tool(tool) for tool in tools]
    return drop_unset(session)


_DEFAULTS: Final = snake_session_config(DEFAULT_OPENAI_REALTIME_SESSION_CONFIG)


def _default(*path: str) -> Any:
    value: Any = _DEFAULTS
    for key in path:
        value = lookup(value, key)
    return _deepcopy_json(value)


def _deepcopy_json(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deepcopy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deepcopy_json(v) for v in value]
    return value
