from modelyard.gateway import keys


def test_keys_are_random_and_only_their_digest_is_kept() -> None:
    first, prefix, digest = keys.new_key()
    second, _, _ = keys.new_key()
    assert first != second
    assert first.startswith(f"myk_{prefix}_") and keys.looks_like_key(first)
    assert digest == keys.digest(first) and first not in digest


def test_other_strings_do_not_look_like_keys() -> None:
    assert not keys.looks_like_key("Bearer")
    assert not keys.looks_like_key("myk_short")
