"""The wire format: one versioned msgpack envelope for every message.

A frame is a msgpack map ``{"v": 1, "type": "<kind>", <field>: <value>, ...}``.
:func:`decode` accepts exactly the fields a kind declares, each of its declared
type and within its size limit, and raises :class:`WireError` (never anything
else) for everything that is not such a frame. :func:`encode` is its inverse.

Each message is a frozen dataclass; a field's annotation carries its checker
(``Annotated[str, _peer_id]``), so the schema is written once, here.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Annotated, Any, ClassVar, get_type_hints

import msgpack

VERSION = 5  # 2: gossip addressed to each neighbour on the PUB, batched; ihave, graft, prune
# 3: a registration names the peer's links, not a degree: seeds count the links both ends name
# 4: anti-entropy: digest and delta
# 5: members: facts and sums; a registration names its run
#: No frame above this size is read (ZMQ_MAXMSGSIZE is set to it on every socket too).
MAX_FRAME = 1 << 20
MAX_BODY = 64 * 1024
MAX_LIST = 100_000
#: Sequence numbers one repair request may ask for.
MAX_REPAIR = 1000
#: Origins one anti-entropy digest lists, and holes one origin's entry names.
MAX_DIGEST = 1000
MAX_HOLES = 64
#: What a watch's event names (or patterns) may hold: a few of them, short.
MAX_NAMES = 64
MAX_NAME = 64
#: Bytes a peer's tags take, keys and values as UTF-8 (memberlist's 512 was too few for
#: its users: serf#550); a key is at most MAX_TAG_KEY characters.
MAX_TAGS = 4096
MAX_TAG_KEY = 128
#: What an answer to a query says (wire.Answer.status): answered, no handler of that
#: name, too many queries from that querier, the answer over the size limit, the
#: handler raised.
STATUSES = ("ok", "nohandler", "busy", "toolarge", "failed")
#: Seconds a query may run at most.
MAX_QUERY_TIME = 3600.0
#: Buckets a member list's sums split the peers into (``sums``: 8 bytes each, 2 KiB).
SUM_BUCKETS = 256
#: Bytes of a message id (:func:`zgossip.protocol.gossip.message_id`).
ID_SIZE = 16


class WireError(ValueError):
    """A frame that is not a valid envelope; the message says why, in a few words."""


class Kind(StrEnum):
    REGISTER = "register"  # peer -> seed: join, and refresh every liveness interval
    PEERS = "peers"  # seed -> peer: the peer list (reply to register and list)
    LIST = "list"  # anyone -> seed: ask for the peer list
    DEAD = "dead"  # peer -> seed: a neighbour missed too many pings
    LEAVE = "leave"  # peer -> seed: stopping, remove me
    LINK = "link"  # peer -> peer: be my neighbour; I subscribed to your PUB
    READY = "ready"  # peer -> peer: your SUB is live on my PUB (slow-joiner handshake)
    PING = "ping"  # anyone -> peer: are you alive?
    PONG = "pong"  # peer -> pinger: the ping's fields, echoed
    BYE = "bye"  # peer -> neighbour: stopping, drop me
    HISTORY = "history"  # peer -> new neighbour: recent gossip it may have missed
    GOSSIP = "gossip"  # PUB -> SUB: one gossip message
    NEIGHBOURS = "neighbours"  # anyone -> peer: whom do you link to?
    LINKS = "links"  # peer -> asker: its neighbours (reply to neighbours)
    PROBE = "probe"  # peer -> neighbour or seed: try to reach this suspect for me
    PROBED = "probed"  # -> the asker: whether the suspect answered (reply to probe)
    SUSPECT = "suspect"  # seed -> seeds: this peer may be dead; probe it and vote
    VOTE = "vote"  # seed -> seeds: my probe's verdict on a suspect
    REPAIR = "repair"  # peer -> neighbour: send me these messages of an origin (as history)
    PAGE = "page"  # anyone -> seed: a page of the peer list, from this offset
    LISTING = "listing"  # seed -> asker: that page, and how many peers the seed holds
    IHAVE = "ihave"  # peer -> neighbour: ids of messages I have (announced, not pushed)
    GRAFT = "graft"  # peer -> neighbour: push to me again, starting with these (as history)
    PRUNE = "prune"  # peer -> neighbour: you sent me a copy I had: announce to me instead
    BATCH = "batch"  # PUB -> SUB: several gossip messages forwarded in one turn, one frame
    MEMBERS = "members"  # anyone -> seed: a page of what became of every peer, from an offset
    ROSTER = "roster"  # seed -> asker: that page: each peer's state and since when
    WATCH = "watch"  # client -> node: send me your events (zgossip monitor); again each second
    WATCHED = "watched"  # node -> watcher: its events since the last, numbered (reply to watch)
    SAY = "say"  # client -> peer: gossip this as your own (zgossip send --via)
    SAID = "said"  # peer -> client: it went out, with this id (reply to say)
    REFUSED = "refused"  # node -> client: not done, and why (reply to watch or say)
    SHUFFLE = "shuffle"  # peer -> neighbour: peers I know, for your passive view; and yours?
    SHUFFLED = "shuffled"  # neighbour -> peer: peers it knows (reply to shuffle)
    DIGEST = "digest"  # peer -> neighbour: what I hold of each origin; send what I lack
    DELTA = "delta"  # neighbour -> peer: gossip the digest lacked (reply to digest)
    TAG = "tag"  # client -> peer: set these tags of yours, drop those (zgossip tag --via)
    TAGGED = "tagged"  # peer -> client: its tags now (reply to tag)
    FACTS = "facts"  # peer or seed -> peer: what became of members (what changed its list)
    SUMS = "sums"  # peer -> neighbour: my member list's sums; send the facts where they differ
    ASK = "ask"  # client -> peer: query the members whose tags match (zgossip query --via)
    QUERY = "query"  # querier -> member: answer this query of mine
    ANSWER = "answer"  # member -> querier: its answer (reply to query)
    ANSWERED = "answered"  # peer -> client: one member's answer to its query (reply to ask)
    ENDED = "ended"  # peer -> client: the query is over: who never answered (reply to ask)


Check = Callable[[Any], Any]

_NUMBER = "(0|[1-9][0-9]{0,4})"  # ASCII digits, no leading zeros: one spelling per id
_HEX_ID = re.compile(f"[0-9a-f]{{{2 * ID_SIZE}}}")
_ADDRESS = re.compile(rf"{_NUMBER}\.{_NUMBER}\.{_NUMBER}\.{_NUMBER}:{_NUMBER}")


def _peer_id(value: Any) -> Any:
    if type(value) is not str or len(value) > 21:
        raise WireError("expected an IP:PORT string")
    problem = _id_problem(value)
    if problem is not None:
        raise WireError(f"{value!r} {problem}")
    return value


@functools.lru_cache(maxsize=4096)  # the same few ids come in every message
def _id_problem(value: str) -> str | None:
    match = _ADDRESS.fullmatch(value)
    if match is None or not all(int(part) <= 255 for part in match.groups()[:4]):
        return "is not IP:PORT"
    if not 0 < int(match.group(5)) <= 65535:
        return "has no valid port"
    return None


def _endpoint(value: Any) -> Any:
    if type(value) is not str or not value.startswith("tcp://"):
        raise WireError("expected a tcp:// endpoint")
    _peer_id(value[6:])
    return value


def _body(value: Any) -> Any:
    if type(value) not in (str, bytes) or len(value) > MAX_BODY:
        raise WireError(f"expected text or bytes of at most {MAX_BODY}")
    return value


def _flag(value: Any) -> Any:
    if type(value) is not bool:
        raise WireError("expected true or false")
    return value


def _count(value: Any) -> Any:
    if type(value) is not int or not 0 <= value < 1 << 63:
        raise WireError("expected a non-negative integer")
    return value


def _stamp(value: Any) -> Any:
    if type(value) not in (float, int) or not math.isfinite(value):
        raise WireError("expected a finite number")
    return float(value)


def _blobs(value: Any) -> Any:
    if type(value) is not list or len(value) > MAX_LIST:
        raise WireError(f"expected a list of at most {MAX_LIST} items")
    if not all(type(item) is bytes for item in value):
        raise WireError("expected a list of binary items")
    return tuple(value)


def _ids(value: Any) -> Any:
    if type(value) is not list or len(value) > MAX_LIST:
        raise WireError(f"expected a list of at most {MAX_LIST} message ids")
    if not all(type(item) is bytes and len(item) == ID_SIZE for item in value):
        raise WireError(f"expected message ids of {ID_SIZE} bytes")
    return tuple(value)


def _peer_ids(value: Any) -> Any:
    if type(value) is not list or len(value) > MAX_LIST:
        raise WireError(f"expected a list of at most {MAX_LIST} peers")
    return tuple(_peer_id(item) for item in value)


def _seqs(value: Any) -> Any:
    if type(value) is not list or len(value) > MAX_REPAIR:
        raise WireError(f"expected a list of at most {MAX_REPAIR} sequence numbers")
    return tuple(_count(item) for item in value)


def _peer_infos(value: Any) -> Any:
    if type(value) is not list or len(value) > MAX_LIST:
        raise WireError(f"expected a list of at most {MAX_LIST} peers")
    infos = []
    for item in value:
        if type(item) is not list or len(item) != 4:
            raise WireError("expected [peer, pub, degree, since] entries")
        infos.append(
            PeerInfo(_peer_id(item[0]), _endpoint(item[1]), _count(item[2]), _stamp(item[3]))
        )
    return tuple(infos)


#: What a seed says of a peer (``zgossip members``).
STATES = ("alive", "suspect", "left", "dead", "revoked")


def _members(value: Any) -> Any:
    if type(value) is not list or len(value) > MAX_LIST:
        raise WireError(f"expected a list of at most {MAX_LIST} members")
    members = []
    for item in value:
        if type(item) is not list or len(item) != 4 or item[1] not in STATES:
            raise WireError(f"expected [peer, state ({'/'.join(STATES)}), since, tags] entries")
        members.append(Member(_peer_id(item[0]), item[1], _stamp(item[2]), check_tags(item[3])))
    return tuple(members)


#: What a member fact says of a peer, in the order that breaks a tie (see
#: :mod:`zgossip.protocol.members`): a peer ends as dead or left.
FACT_STATES = ("alive", "suspect", "dead", "left")
_FACT_STATE = {state: state for state in FACT_STATES}


def _facts(value: Any) -> Any:
    if type(value) is not list or len(value) > MAX_LIST:
        raise WireError(f"expected a list of at most {MAX_LIST} facts")
    facts = []
    for item in value:
        if type(item) is not list or len(item) != 6 or item[3] not in FACT_STATES:
            raise WireError(
                f"expected [peer, run, ver, state ({'/'.join(FACT_STATES)}), since, tags] facts"
            )
        peer, run, ver, state, since, tags = item
        state = _FACT_STATE[state]  # one string a state, not one a fact: a list holds many
        facts.append(
            Fact(_peer_id(peer), _count(run), _count(ver), state, _stamp(since), check_tags(tags))
        )
    return tuple(facts)


def _sums(value: Any) -> Any:
    if type(value) is not bytes or len(value) != 8 * SUM_BUCKETS:
        raise WireError(f"expected {8 * SUM_BUCKETS} bytes of sums")
    return value


def _status(value: Any) -> Any:
    if value not in STATUSES:
        raise WireError(f"expected one of {'/'.join(STATUSES)}")
    return value


def _name(value: Any) -> Any:
    if type(value) is not str or not 0 < len(value) <= MAX_NAME:
        raise WireError(f"expected a name of 1 to {MAX_NAME} characters")
    return value


def _seconds(value: Any) -> Any:
    if type(value) not in (float, int) or not 0 < value <= MAX_QUERY_TIME:
        raise WireError(f"expected seconds, more than 0 and at most {MAX_QUERY_TIME:g}")
    return float(value)


def _holdings(value: Any) -> Any:
    if type(value) is not list or len(value) > MAX_DIGEST:
        raise WireError(f"expected a list of at most {MAX_DIGEST} origins")
    holdings = []
    for item in value:
        if type(item) is not list or len(item) != 4:
            raise WireError("expected [origin, low, high, holes] entries")
        low, high, holes = _count(item[1]), _count(item[2]), item[3]
        if type(holes) is not list or len(holes) > 2 * MAX_HOLES or len(holes) % 2:
            raise WireError(f"expected at most {MAX_HOLES} holes, [first, last] each")
        if low > high:
            raise WireError("expected low <= high")
        held = low  # the last number held before the next hole
        for k in range(0, len(holes), 2):
            first, last = _count(holes[k]), _count(holes[k + 1])
            if not held < first <= last < high:
                raise WireError("expected holes in order, apart, between low and high")
            held = last + 1
        holdings.append(Holding(_peer_id(item[0]), low, high, tuple(holes)))
    return tuple(holdings)


def check_tags(pairs: Any) -> tuple[tuple[str, str], ...]:
    """A peer's tags as ``((key, value), ...)``, sorted by key; ValueError (a WireError)
    saying what is wrong: keys are 1 to MAX_TAG_KEY characters with no ``=``, each once,
    values text, MAX_TAGS bytes in all."""
    if type(pairs) not in (list, tuple):
        raise WireError("expected [key, value] pairs")
    size, keys = 0, set()
    for pair in pairs:
        if type(pair) not in (list, tuple) or len(pair) != 2:
            raise WireError("expected [key, value] pairs")
        key, value = pair
        if type(key) is not str or type(value) is not str:
            raise WireError("tag keys and values are text")
        if not 0 < len(key) <= MAX_TAG_KEY or "=" in key:
            raise WireError(f"a tag key is 1 to {MAX_TAG_KEY} characters, with no '=': {key!r}")
        if key in keys:
            raise WireError(f"tag {key!r} given twice")
        keys.add(key)
        size += len(key.encode()) + len(value.encode(errors="surrogatepass"))
    if size > MAX_TAGS:
        raise WireError(f"tags take {size} bytes, over the {MAX_TAGS}-byte limit")
    return tuple(sorted((key, value) for key, value in pairs))


def _keys(value: Any) -> Any:
    if type(value) is not list or len(value) > MAX_TAGS:
        raise WireError("expected a list of tag keys")
    if not all(type(key) is str and 0 < len(key) <= MAX_TAG_KEY for key in value):
        raise WireError(f"expected tag keys of 1 to {MAX_TAG_KEY} characters")
    return tuple(value)


def _names(value: Any) -> Any:
    if type(value) is not list or len(value) > MAX_NAMES:
        raise WireError(f"expected a list of at most {MAX_NAMES} names")
    if not all(type(item) is str and 0 < len(item) <= MAX_NAME for item in value):
        raise WireError(f"expected names of 1 to {MAX_NAME} characters")
    return tuple(value)


def _lines(value: Any) -> Any:
    if type(value) is not list or len(value) > MAX_LIST:
        raise WireError(f"expected a list of at most {MAX_LIST} events")
    for item in value:
        if type(item) is not list or len(item) != 2 or not all(type(t) is str for t in item):
            raise WireError("expected [json, text] events")
    return tuple((json, text) for json, text in value)


def _reason(value: Any) -> Any:
    if type(value) is not str or len(value) > MAX_NAME * 4:
        raise WireError(f"expected a text of at most {MAX_NAME * 4} characters")
    return value


def _hex_id(value: Any) -> Any:
    if type(value) is not str or not _HEX_ID.fullmatch(value):
        raise WireError(f"expected a message id of {2 * ID_SIZE} hex digits")
    return value


PeerId = Annotated[str, _peer_id]
Tags = Annotated[tuple[tuple[str, str], ...], check_tags]
Endpoint = Annotated[str, _endpoint]
Count = Annotated[int, _count]
Stamp = Annotated[float, _stamp]


@dataclass(frozen=True, slots=True)
class PeerInfo:
    """One entry of a seed's peer list."""

    id: str
    pub: str  # the endpoint of the peer's PUB, as it advertised it
    degree: int  # its neighbour count, as it last told the seed
    since: float  # Unix time the seed registered it


@dataclass(frozen=True, slots=True)
class Holding:
    """What a peer holds of one origin: its messages ``low..high``, but for the holes,
    ``(first, last, first, last, ...)`` in order."""

    origin: str
    low: int
    high: int
    holes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Register:
    KIND: ClassVar[Kind] = Kind.REGISTER
    peer: PeerId
    pub: Endpoint
    #: its links that are up: a seed believes a link only when both ends name each other
    neighbours: Annotated[tuple[str, ...], _peer_ids]
    tags: Tags = ()  # what it says of itself (zgossip peer --tag)
    run: Count = 0  # its run (when it started, ns): what the seeds' word of its death names


@dataclass(frozen=True, slots=True)
class Peers:
    KIND: ClassVar[Kind] = Kind.PEERS
    seed: PeerId
    peers: Annotated[tuple[PeerInfo, ...], _peer_infos]


@dataclass(frozen=True, slots=True)
class ListPeers:
    KIND: ClassVar[Kind] = Kind.LIST


@dataclass(frozen=True, slots=True)
class Dead:
    KIND: ClassVar[Kind] = Kind.DEAD
    dead: PeerId
    ts: Stamp
    reporter: PeerId

    def line(self) -> str:
        """The report as the assignment writes it: ``Dead Node:<IP>:<Port>:<ts>:<reporter IP>``."""
        return f"Dead Node:{self.dead}:{self.ts}:{self.reporter.rpartition(':')[0]}"


@dataclass(frozen=True, slots=True)
class Leave:
    KIND: ClassVar[Kind] = Kind.LEAVE
    peer: PeerId


@dataclass(frozen=True, slots=True)
class Link:
    KIND: ClassVar[Kind] = Kind.LINK
    peer: PeerId
    pub: Endpoint


@dataclass(frozen=True, slots=True)
class Ready:
    KIND: ClassVar[Kind] = Kind.READY
    peer: PeerId


@dataclass(frozen=True, slots=True)
class Ping:
    KIND: ClassVar[Kind] = Kind.PING
    peer: PeerId
    ts: Stamp


@dataclass(frozen=True, slots=True)
class Pong:
    KIND: ClassVar[Kind] = Kind.PONG
    peer: PeerId  # the ping's, echoed
    ts: Stamp  # the ping's, echoed
    linked: Annotated[bool, _flag]  # whether the answering peer counts the pinger as a neighbour


@dataclass(frozen=True, slots=True)
class Bye:
    KIND: ClassVar[Kind] = Kind.BYE
    peer: PeerId


@dataclass(frozen=True, slots=True)
class History:
    KIND: ClassVar[Kind] = Kind.HISTORY
    peer: PeerId
    items: Annotated[tuple[bytes, ...], _blobs]  # whole gossip frames, oldest first


@dataclass(frozen=True, slots=True)
class Gossip:
    KIND: ClassVar[Kind] = Kind.GOSSIP
    origin: PeerId
    seq: Count
    ts: Stamp  # when the origin sent it
    body: Annotated[str | bytes, _body]


@dataclass(frozen=True, slots=True)
class Neighbours:
    KIND: ClassVar[Kind] = Kind.NEIGHBOURS


@dataclass(frozen=True, slots=True)
class Links:
    KIND: ClassVar[Kind] = Kind.LINKS
    peer: PeerId
    neighbours: Annotated[tuple[str, ...], _peer_ids]  # the links that are up


@dataclass(frozen=True, slots=True)
class Probe:
    KIND: ClassVar[Kind] = Kind.PROBE
    peer: PeerId  # who asks
    suspect: PeerId
    ts: Stamp  # echoed in the answer


@dataclass(frozen=True, slots=True)
class Probed:
    KIND: ClassVar[Kind] = Kind.PROBED
    peer: PeerId  # who probed
    suspect: PeerId
    ts: Stamp  # the probe request's, echoed
    alive: Annotated[bool, _flag]


@dataclass(frozen=True, slots=True)
class Suspect:
    KIND: ClassVar[Kind] = Kind.SUSPECT
    seed: PeerId  # who tells
    peer: PeerId
    reporter: PeerId  # who first suspected it


@dataclass(frozen=True, slots=True)
class Vote:
    KIND: ClassVar[Kind] = Kind.VOTE
    seed: PeerId  # who votes
    peer: PeerId
    dead: Annotated[bool, _flag]
    reporter: PeerId  # who first suspected it, for a seed that hears of the case only now


@dataclass(frozen=True, slots=True)
class Repair:
    KIND: ClassVar[Kind] = Kind.REPAIR
    peer: PeerId  # who asks
    origin: PeerId
    seqs: Annotated[tuple[int, ...], _seqs]  # the origin's sequence numbers it missed


@dataclass(frozen=True, slots=True)
class Page:
    KIND: ClassVar[Kind] = Kind.PAGE
    offset: Count  # where in the seed's list the page starts


@dataclass(frozen=True, slots=True)
class Listing:
    KIND: ClassVar[Kind] = Kind.LISTING
    seed: PeerId
    offset: Count  # the page's, echoed
    total: Count  # the peers the seed holds: ask again from offset + len(peers) until there
    peers: Annotated[tuple[PeerInfo, ...], _peer_infos]


@dataclass(frozen=True, slots=True)
class IHave:
    KIND: ClassVar[Kind] = Kind.IHAVE
    peer: PeerId  # who has them
    ids: Annotated[tuple[bytes, ...], _ids]


@dataclass(frozen=True, slots=True)
class Graft:
    KIND: ClassVar[Kind] = Kind.GRAFT
    peer: PeerId  # who asks
    ids: Annotated[tuple[bytes, ...], _ids]  # announced to it, never received: send them


@dataclass(frozen=True, slots=True)
class Prune:
    KIND: ClassVar[Kind] = Kind.PRUNE
    peer: PeerId


@dataclass(frozen=True, slots=True)
class Batch:
    KIND: ClassVar[Kind] = Kind.BATCH
    peer: PeerId  # who forwards them
    items: Annotated[tuple[bytes, ...], _blobs]  # gossip envelopes, as their origins encoded


@dataclass(frozen=True, slots=True)
class Member:
    """One peer as a seed sees it: its state (one of STATES), since when (Unix time), and
    its tags as it last registered them."""

    peer: str
    state: str
    since: float
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Members:
    KIND: ClassVar[Kind] = Kind.MEMBERS
    offset: Count


@dataclass(frozen=True, slots=True)
class Roster:
    KIND: ClassVar[Kind] = Kind.ROSTER
    seed: PeerId
    offset: Count  # the page's, echoed
    total: Count  # the members the seed knows of
    members: Annotated[tuple[Member, ...], _members]


@dataclass(frozen=True, slots=True)
class Watch:
    KIND: ClassVar[Kind] = Kind.WATCH
    events: Annotated[tuple[str, ...], _names]  # the events wanted, as patterns; () for all
    read: Count  # events received of the node so far (numbered as in Watched.seq)


@dataclass(frozen=True, slots=True)
class Watched:
    KIND: ClassVar[Kind] = Kind.WATCHED
    node: PeerId
    seq: Count  # the number of the first of these among the watched events (a gap: lost)
    events: Annotated[tuple[tuple[str, str], ...], _lines]  # JSON line, console text


@dataclass(frozen=True, slots=True)
class Say:
    KIND: ClassVar[Kind] = Kind.SAY
    body: Annotated[str | bytes, _body]


@dataclass(frozen=True, slots=True)
class Said:
    KIND: ClassVar[Kind] = Kind.SAID
    peer: PeerId  # who gossiped it
    id: Annotated[str, _hex_id]  # as gossip.sent and gossip.received name it


@dataclass(frozen=True, slots=True)
class Refused:
    KIND: ClassVar[Kind] = Kind.REFUSED
    node: PeerId
    reason: Annotated[str, _reason]


@dataclass(frozen=True, slots=True)
class Shuffle:
    KIND: ClassVar[Kind] = Kind.SHUFFLE
    peer: PeerId
    peers: Annotated[tuple[PeerInfo, ...], _peer_infos]  # the sender first, then others


@dataclass(frozen=True, slots=True)
class Shuffled:
    KIND: ClassVar[Kind] = Kind.SHUFFLED
    peer: PeerId
    peers: Annotated[tuple[PeerInfo, ...], _peer_infos]


@dataclass(frozen=True, slots=True)
class Digest:
    KIND: ClassVar[Kind] = Kind.DIGEST
    peer: PeerId  # who asks
    since: Stamp  # Unix time it started: it wants nothing taken before
    origins: Annotated[tuple[Holding, ...], _holdings]  # what it holds of each
    complete: Annotated[bool, _flag]  # every origin it heard of lately is listed


@dataclass(frozen=True, slots=True)
class Delta:
    KIND: ClassVar[Kind] = Kind.DELTA
    peer: PeerId
    items: Annotated[tuple[bytes, ...], _blobs]  # whole gossip frames the digest lacked
    more: Annotated[bool, _flag]  # not all fitted: ask again


@dataclass(frozen=True, slots=True)
class Tag:
    KIND: ClassVar[Kind] = Kind.TAG
    set: Tags  # these keys to these values (the others kept)
    drop: Annotated[tuple[str, ...], _keys]  # these keys gone


@dataclass(frozen=True, slots=True)
class Tagged:
    KIND: ClassVar[Kind] = Kind.TAGGED
    peer: PeerId
    tags: Tags  # all of them, now


@dataclass(frozen=True, slots=True)
class Fact:
    """What became of a peer, as every member list holds it: the newer fact wins (see
    :mod:`zgossip.protocol.members`). ``run``: the peer's start (ns), a restart a new one;
    ``ver``: raised by the peer with each change of its own within a run; ``state``: one
    of FACT_STATES; ``since``: Unix time of the change; ``tags``: what it says of itself."""

    peer: str
    run: int
    ver: int
    state: str
    since: float
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Facts:
    KIND: ClassVar[Kind] = Kind.FACTS
    peer: PeerId  # who sends them
    facts: Annotated[tuple[Fact, ...], _facts]
    answer: Annotated[bool, _flag]  # an answer to sums: taken, not passed on (flooded: passed)
    more: Annotated[bool, _flag]  # an answer cut at its size: send sums again


@dataclass(frozen=True, slots=True)
class Sums:
    KIND: ClassVar[Kind] = Kind.SUMS
    peer: PeerId  # who sends them
    sums: Annotated[bytes, _sums]  # each bucket's facts, hashed and XORed (8 bytes each)
    answer: Annotated[bool, _flag]  # an answer to yours: send facts, not sums again


@dataclass(frozen=True, slots=True)
class Ask:
    KIND: ClassVar[Kind] = Kind.ASK
    name: Annotated[str, _name]  # the query's: which handler answers it
    payload: Annotated[str | bytes, _body]
    tags: Tags  # only the members whose tags match these (patterns as in file names)
    timeout: Annotated[float, _seconds]  # it ends then at the latest


@dataclass(frozen=True, slots=True)
class Query:
    KIND: ClassVar[Kind] = Kind.QUERY
    peer: PeerId  # who asks
    id: Count  # its number at the querier, echoed
    name: Annotated[str, _name]
    payload: Annotated[str | bytes, _body]


@dataclass(frozen=True, slots=True)
class Answer:
    KIND: ClassVar[Kind] = Kind.ANSWER
    peer: PeerId  # who answers
    id: Count  # the query's, echoed
    status: Annotated[str, _status]  # one of STATUSES
    payload: Annotated[str | bytes, _body]  # the handler's answer ("ok"), or why not


@dataclass(frozen=True, slots=True)
class Answered:
    KIND: ClassVar[Kind] = Kind.ANSWERED
    peer: PeerId  # the member that answered
    status: Annotated[str, _status]
    payload: Annotated[str | bytes, _body]
    took: Stamp  # seconds from the query's start to this answer


@dataclass(frozen=True, slots=True)
class Ended:
    KIND: ClassVar[Kind] = Kind.ENDED
    node: PeerId  # the querier
    expected: Count  # the members it asked
    missing: Annotated[tuple[str, ...], _peer_ids]  # those that never answered, alive to it
    gone: Annotated[tuple[str, ...], _peer_ids]  # those that died or left meanwhile
    timed_out: Annotated[bool, _flag]  # ended at its timeout (else: all answered, or gone)


Message = (
    Register | Peers | ListPeers | Dead | Leave | Link | Ready | Ping | Pong | Bye | History
    | Gossip | Neighbours | Links | Probe | Probed | Suspect | Vote | Repair | Page | Listing
    | IHave | Graft | Prune | Batch | Members | Roster | Watch | Watched | Say | Said | Refused
    | Shuffle | Shuffled | Digest | Delta | Tag | Tagged | Facts | Sums | Ask | Query | Answer
    | Answered | Ended
)  # fmt: skip
_TYPES: tuple[type[Message], ...] = (
    Register, Peers, ListPeers, Dead, Leave, Link, Ready, Ping, Pong, Bye, History, Gossip,
    Neighbours, Links, Probe, Probed, Suspect, Vote, Repair, Page, Listing, IHave, Graft, Prune,
    Batch, Members, Roster, Watch, Watched, Say, Said, Refused, Shuffle, Shuffled, Digest, Delta,
    Tag, Tagged, Facts, Sums, Ask, Query, Answer, Answered, Ended,
)  # fmt: skip


def _schema(cls: type[Message]) -> tuple[type[Message], dict[str, Check]]:
    hints = get_type_hints(cls, include_extras=True)
    return cls, {f.name: hints[f.name].__metadata__[0] for f in fields(cls)}


_SCHEMAS: dict[str, tuple[type[Message], dict[str, Check]]] = {
    cls.KIND.value: _schema(cls) for cls in _TYPES
}


def _plain(value: Any) -> Any:
    """A field's value as msgpack takes it: tuples (of peers, of events) as lists."""
    if type(value) is tuple:
        return [_plain_item(item) for item in value]
    return value


def _plain_item(item: Any) -> Any:
    if type(item) is PeerInfo:
        return [item.id, item.pub, item.degree, item.since]
    if type(item) is Member:
        return [item.peer, item.state, item.since, _plain(item.tags)]
    if type(item) is Fact:
        return [item.peer, item.run, item.ver, item.state, item.since, _plain(item.tags)]
    if type(item) is Holding:
        return [item.origin, item.low, item.high, list(item.holes)]
    if type(item) is tuple:
        return list(item)
    return item


#: The messages on a node's ROUTER that come from a node naming itself in ``peer``, and
#: the three that name it otherwise: what only that node's own key may send (CurveZMQ).
_SPEAKER = {Dead: "reporter", Suspect: "seed", Vote: "seed"}
_SPEAKS_AS_PEER = (
    Register, Leave, Link, Ready, Ping, Bye, History, Probe, Repair, IHave, Graft, Prune,
    Shuffle, Digest, Facts, Sums, Query,
)  # fmt: skip


def speaker(message: Message) -> str | None:
    """The node a request on a ROUTER says it comes from (None: a client's, naming none)."""
    if isinstance(message, _SPEAKS_AS_PEER):
        return message.peer
    field = _SPEAKER.get(type(message))
    return None if field is None else str(getattr(message, field))


def text(body: str | bytes) -> str:
    """A body (or payload) as the logs and the console show it: bytes as UTF-8,
    undecodable bytes replaced."""
    return body if isinstance(body, str) else body.decode("utf-8", errors="replace")


def encode(message: Message) -> bytes:
    """The envelope of ``message`` as one msgpack frame."""
    envelope: dict[str, Any] = {"v": VERSION, "type": message.KIND.value}
    for name in _SCHEMAS[message.KIND.value][1]:
        envelope[name] = _plain(getattr(message, name))
    packed: bytes = msgpack.packb(envelope, use_bin_type=True)
    return packed


def gossip_frame(sender: bytes, envelope: bytes) -> bytes:
    """What a peer's PUB sends: the forwarding peer's id, length-prefixed, then a gossip
    envelope exactly as its origin encoded it. One frame, never a multipart message: libzmq
    4.3 can abort a SUB reading a multipart message whose publisher just went away."""
    return bytes((len(sender),)) + sender + envelope


def topic(peer: bytes) -> bytes:
    """What a PUB frame for ``peer`` (its id, ASCII) starts with, and what ``peer``'s SUB
    subscribes to: the id, length-prefixed (so that no id's topic is a prefix of
    another's). A peer's PUB addresses each copy to one neighbour: none goes back to the
    neighbour it came from, nor to one that never asked for it. The receiver strips it."""
    return bytes((len(peer),)) + peer


#: What a batch frame starts with: a zero byte (no sender id is empty: a single message's
#: frame never starts so).
BATCH_MARK = b"\x00"


def batch_frame(sender: str, envelopes: tuple[bytes, ...]) -> bytes:
    """What a peer's PUB sends for several messages to one neighbour at once:
    :data:`BATCH_MARK`, then a ``batch`` envelope. The receiver's core takes the items
    together, from that one sender."""
    return BATCH_MARK + encode(Batch(sender, envelopes))


def is_batch(frame: bytes) -> bool:
    return frame[:1] == BATCH_MARK


def split_gossip(frame: bytes) -> tuple[bytes, memoryview]:
    """The sender's id (unchecked, as bytes) and a view of the envelope of a PUB frame.

    Cheap on purpose: most gossip a peer receives is a duplicate it drops unread.
    """
    size = frame[0] if frame else 0
    if not 0 < size <= 21 or len(frame) <= size + 1:
        raise WireError("not a gossip frame (sender id, then envelope)")
    return frame[1 : 1 + size], memoryview(frame)[1 + size :]


def sender_id(raw: bytes) -> str:
    """The checked ``IP:PORT`` of a gossip frame's sender."""
    try:
        return str(_peer_id(raw.decode("ascii")))
    except UnicodeDecodeError:
        raise WireError("gossip sender is not IP:PORT") from None


def decode(frame: bytes) -> Message:
    """The message in ``frame``; :class:`WireError` when it is not a valid envelope."""
    if len(frame) > MAX_FRAME:
        raise WireError(f"frame of {len(frame)} bytes is over the {MAX_FRAME}-byte limit")
    try:
        envelope = msgpack.unpackb(frame, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises a zoo of types for bad bytes
        raise WireError(f"not msgpack ({type(exc).__name__})") from None
    if type(envelope) is not dict:
        raise WireError("envelope is not a map")
    version = envelope.pop("v", None)
    if type(version) is not int:
        raise WireError("envelope has no version")
    if version != VERSION:
        raise WireError(f"unsupported version {version}")
    kind = envelope.pop("type", None)
    if type(kind) is not str or kind not in _SCHEMAS:
        raise WireError(f"unknown message type {str(kind)[:32]!r}")
    cls, schema = _SCHEMAS[kind]
    if len(envelope) != len(schema) or envelope.keys() != schema.keys():
        missing = [name for name in schema if name not in envelope]
        if missing:
            raise WireError(f"{kind}: missing field {missing[0]!r}")
        extra = next(key for key in envelope if key not in schema)  # str or bytes keys
        raise WireError(f"{kind}: unexpected field {extra[:32]!r}")
    values = []  # positional: a frozen dataclass is built faster so, and gossip is hot
    try:
        for name, check in schema.items():
            values.append(check(envelope[name]))
    except WireError as exc:
        raise WireError(f"{kind}.{name}: {exc}") from None
    return cls(*values)
