"""``OpenAIRealtimeWebSocket``: the Agents SDK transport, ported to Python and asyncio.

The package is laid out as the reference is:

=========================  =======================================================
module                     what (reference file)
=========================  =======================================================
``protocol``               the sans-I/O core: frames in, events and frames out
                           (openaiRealtimeBase.ts, the socket's message listener)
``websocket``              the asyncio shell around it (openaiRealtimeWebsocket.ts):
                           connect, close, the reader task
``link``                   one connection: its socket, send queue and writer task
``attempt``                a ``connect()`` in progress, and how ``close()`` cancels it
``options``                the URL, the headers and websockets' ``connect`` arguments
``sequencer``              one ``response.create`` at a time
                           (responseCreateSequencer.ts)
``session_config``         ``session.update`` payloads (clientMessages.ts)
``schema``                 server events checked as zod checks them
                           (openaiRealtimeEvents.ts)
``payloads``               the event values it emits (transportLayerEvents.ts)
=========================  =======================================================

A faithful port of ``OpenAIRealtimeWebSocket`` from the npm package
``@openai/agents-realtime`` 0.20.0 (``openaiRealtimeWebsocket.ts``, ``openaiRealtimeBase.ts``,
``responseCreateSequencer.ts``, ``clientMessages.ts``): for the same calls and the same
server events it sends the same frames and emits the same events. The conformance suite
(``tests/conformance``) runs the reference under node beside it to keep that true.

Usage::

    transport = OpenAIRealtimeWebSocket(api_key="sk-...")
    transport.on("audio", lambda event: play(event.data))
    transport.on("function_call", on_tool_call)
    await transport.connect(model="gpt-realtime")
    transport.send_message("Hello!")
    ...
    await transport.aclose()

Sync or async
-------------

=================================  ======  ==================================================
member                             kind    why
=================================  ======  ==================================================
``connect(...)``                   async   awaits the API key callable, the handshake and the
                                           initial ``session.update`` reaching the socket
``aclose()`` / ``async with``      async   ``close()``, then waits until the socket is closed
``close()``                        sync    like the reference: state turns ``disconnected``
                                           at once; frames already queued are flushed, then
                                           the socket closes in the background
``send_event``, ``send_message``,  sync    fire-and-forget like ``ws.send``: each frame is
``add_image``, ``send_audio``,             queued, in call order, to a writer task; safe to
``update_session_config``,                 call from (sync) event listeners
``send_function_call_output``,
``send_mcp_response``,
``request_response``,
``interrupt``, ``_interrupt``,
``_cancel_response``,
``reset_history``, ``mute``
``on`` / ``off`` / ``once`` /      sync    listeners are called synchronously while a server
``emit``                                   frame is dispatched; an ``async def`` listener is
                                           scheduled as a task (errors reach ``error``)
=================================  ======  ==================================================

Names: the reference's camelCase, in snake_case
-----------------------------------------------

============================================  =============================================
reference (JS)                                here (Python)
============================================  =============================================
``new OpenAIRealtimeWebSocket(options)``      ``OpenAIRealtimeWebSocket(**options)``
options ``url``, ``apiKey``, ``model``        ``url``, ``api_key``, ``model``
options ``useInsecureApiKey``                 ``use_insecure_api_key``
options ``createWebSocket``                   ``create_websocket``
options ``skipOpenEventListeners``            ``skip_open_event_listeners``
``status``, ``muted``                         ``status``, ``muted``
``connectionState``                           ``connection_state``
``currentModel``                              ``current_model``
``_tracingConfig``                            ``_tracing_config``
``connect({apiKey, model, url, callId,        ``connect(api_key=, model=, url=, call_id=,
initialSessionConfig})``                      initial_session_config=)``
``close()``                                   ``close()``, ``aclose()``
``sendEvent``                                 ``send_event``
``sendMessage(m, other, {triggerResponse})``  ``send_message(m, other, trigger_response=)``
``addImage(i, {triggerResponse})``            ``add_image(i, trigger_response=)``
``sendAudio(a, {commit})``                    ``send_audio(a, commit=)``
``updateSessionConfig``                       ``update_session_config``
``buildSessionPayload``                       ``build_session_payload``
``sendFunctionCallOutput``                    ``send_function_call_output``
``sendMcpResponse``                           ``send_mcp_response``
``requestResponse``                           ``request_response``
``interrupt``, ``_interrupt``                 ``interrupt``, ``_interrupt``
``_cancelResponse``                           ``_cancel_response``
``mute``                                      ``mute``
``resetHistory``                              ``reset_history``
``on``, ``off``, ``once``, ``emit``           ``on``, ``off``, ``once``, ``emit``
``TransportLayerAudio``                       :class:`AudioEvent`
``TransportToolCallEvent``                    :class:`ToolCallEvent`
``TransportLayerTranscriptDelta``             :class:`TranscriptDeltaEvent`
``output_text_delta`` payload                 :class:`OutputTextDeltaEvent`
``TransportLayerResponseStarted``             :class:`TurnStartedEvent`
``TransportLayerResponseCompleted``           :class:`TurnDoneEvent`
``TransportError``                            :class:`ErrorEvent`
``Usage`` (agents-core)                       :class:`Usage`
``item_deleted`` payload                      :class:`ItemDeletedEvent`
``mcp_tools_listed`` payload                  :class:`McpToolsListedEvent`
``WebSocketState``                            :class:`ConnectionState`
============================================  =============================================

Session config keys are accepted in camelCase (the reference's) and snake_case
(``output_modalities``, ``tool_choice``, ``turn_detection``, ``noise_reduction``, ...);
where both spellings of one key are given, camelCase wins.

Events
------

================================  ==================================================
event                             payload
================================  ==================================================
``connection_change``             ``"connecting" | "connected" | "disconnected"``
``connected`` / ``disconnected``  none
``*``                             every server event, the wire JSON as a ``dict``
``<server event type>``           that event, as the reference's schema keeps it
``error``                         :class:`ErrorEvent` (``.error``: the server's
                                  ``error`` event, or an exception)
``item_update``                   a :mod:`harness.items` item
``item_deleted``                  :class:`ItemDeletedEvent`
``audio``                         :class:`AudioEvent` (``.data``: bytes)
``audio_done``                    none
``audio_interrupted``             none
``audio_transcript_delta``        :class:`TranscriptDeltaEvent`
``output_text_delta``             :class:`OutputTextDeltaEvent`
``function_call``                 :class:`ToolCallEvent`
``turn_started``                  :class:`TurnStartedEvent`
``turn_done``                     :class:`TurnDoneEvent`
``usage_update``                  :class:`Usage`
``mcp_approval_request``          :class:`~harness.items.McpApprovalRequestItem`
``mcp_tool_call_completed``       :class:`~harness.items.McpCallItem`
``mcp_tools_listed``              :class:`McpToolsListedEvent`
================================  ==================================================

Every payload class has ``to_json()``, the reference's camelCase JSON for it. Payloads
are shared between listeners: treat them as read-only.

Deliberate differences from the reference are commented where they happen
(``# reference: ...``) and listed in the README.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from harness.transport.payloads import (
    AudioEvent,
    ErrorEvent,
    ItemDeletedEvent,
    McpToolsListedEvent,
    OutputTextDeltaEvent,
    ToolCallEvent,
    TranscriptDeltaEvent,
    TurnDoneEvent,
    TurnStartedEvent,
    Usage,
)
from harness.transport.protocol import RealtimeProtocol, WebSocketStatus
from harness.transport.session_config import (
    DEFAULT_OPENAI_REALTIME_MODEL,
    DEFAULT_OPENAI_REALTIME_SESSION_CONFIG,
)

if TYPE_CHECKING:
    from harness.transport.options import (
        ConnectionState,
        CreateWebSocketOptions,
        connect_arguments,
    )
    from harness.transport.websocket import OpenAIRealtimeWebSocket

# The asyncio shell (and with it websockets) loads on first use of one of its names, so
# that importing the sans-I/O core (harness.transport.protocol) loads no I/O at all.
_SHELL: dict[str, str] = {
    "ConnectionState": "options",
    "CreateWebSocketOptions": "options",
    "connect_arguments": "options",
    "OpenAIRealtimeWebSocket": "websocket",
}


def __getattr__(name: str) -> Any:
    module = _SHELL.get(name)
    if module is not None:
        value = getattr(importlib.import_module(f"harness.transport.{module}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'harness.transport' has no attribute {name!r}")


__all__ = [
    "DEFAULT_OPENAI_REALTIME_MODEL",
    "DEFAULT_OPENAI_REALTIME_SESSION_CONFIG",
    "AudioEvent",
    "ConnectionState",
    "CreateWebSocketOptions",
    "ErrorEvent",
    "ItemDeletedEvent",
    "McpToolsListedEvent",
    "OpenAIRealtimeWebSocket",
    "OutputTextDeltaEvent",
    "RealtimeProtocol",
    "ToolCallEvent",
    "TranscriptDeltaEvent",
    "TurnDoneEvent",
    "TurnStartedEvent",
    "Usage",
    "WebSocketStatus",
    "connect_arguments",
]
