"""`ByteTokenizer`: one token per UTF-8 byte, plus one EOS token past the bytes."""

from __future__ import annotations


class ByteTokenizer:
    vocab_size = 257
    eos_token_id = 256

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, token_ids: list[int], skip_special_tokens: bool = True) -> str:
        data = bytes(t for t in token_ids if 0 <= t < 256)
        text = data.decode("utf-8", errors="replace")
        if not skip_special_tokens and self.eos_token_id in token_ids:
            text += "<eos>"
        return text
