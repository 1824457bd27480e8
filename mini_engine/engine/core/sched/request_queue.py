"""Waiting queues: FCFS (a deque) and priority (a heap), as vllm/v1/core/sched/request_queue.py."""

from __future__ import annotations

import heapq
from collections import deque
from typing import Iterable, Iterator

from mini_engine.engine.request import Request


class FCFSRequestQueue:
    def __init__(self) -> None:
        self._q: deque[Request] = deque()

    def add_request(self, request: Request) -> None:
        self._q.append(request)

    def prepend_request(self, request: Request) -> None:
        self._q.appendleft(request)

    def peek_request(self) -> Request:
        return self._q[0]

    def pop_request(self) -> Request:
        return self._q.popleft()

    def remove_requests(self, requests: Iterable[Request]) -> None:
        gone = set(map(id, requests))
        self._q = deque(r for r in self._q if id(r) not in gone)

    def __len__(self) -> int:
        return len(self._q)

    def __bool__(self) -> bool:
        return bool(self._q)

    def __iter__(self) -> Iterator[Request]:
        return iter(self._q)

    def copy(self) -> "FCFSRequestQueue":
        """A queue with the same requests in the same order (the requests are shared)."""
        queue = FCFSRequestQueue()
        queue._q = self._q.copy()
        return queue


class PriorityRequestQueue:
    """Ordered by (priority, arrival_time, request_id); iteration is in that order."""

    def __init__(self) -> None:
        self._heap: list[Request] = []

    def add_request(self, request: Request) -> None:
        heapq.heappush(self._heap, request)

    prepend_request = add_request  # a heap has no front: the victim re-sorts by its key

    def peek_request(self) -> Request:
        return self._heap[0]

    def pop_request(self) -> Request:
        return heapq.heappop(self._heap)

    def remove_requests(self, requests: Iterable[Request]) -> None:
        gone = set(map(id, requests))
        self._heap = [r for r in self._heap if id(r) not in gone]
        heapq.heapify(self._heap)

    def __len__(self) -> int:
        return len(self._heap)

    def __bool__(self) -> bool:
        return bool(self._heap)

    def __iter__(self) -> Iterator[Request]:
        return iter(sorted(self._heap))

    def copy(self) -> "PriorityRequestQueue":
        """A queue with the same requests and heap layout (the requests are shared)."""
        queue = PriorityRequestQueue()
        queue._heap = self._heap.copy()
        return queue


def create_request_queue(policy: str) -> FCFSRequestQueue | PriorityRequestQueue:
    return PriorityRequestQueue() if policy == "priority" else FCFSRequestQueue()
