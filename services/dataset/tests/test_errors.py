from modelyard.dataset.errors import DatasetTooLarge, human_bytes

GIB = 1024**3


def test_sizes_read_in_the_largest_whole_unit_with_at_most_two_decimals() -> None:
    assert [human_bytes(n) for n in (0, 700, 1024, 40 * 1024, 1536 * 1024, 10 * GIB, int(9.8 * GIB))] == [
        "0 B",
        "700 B",
        "1 KiB",
        "40 KiB",
        "1.5 MiB",
        "10 GiB",
        "9.8 GiB",
    ]


def test_a_full_dataset_is_a_429_naming_the_plan_the_limit_and_both_sizes() -> None:
    refused = DatasetTooLarge("enterprise", 10 * GIB, int(9.8 * GIB), GIB // 2)
    assert refused.status == 429 and refused.problem().type.endswith("/dataset-too-large")
    assert refused.detail == (
        "the enterprise plan allows 10 GiB per dataset; this one holds 9.8 GiB and the upload declares 512 MiB"
    )
    assert DatasetTooLarge("free", 1024, 0, 2048, verb="adds").detail.endswith("the upload adds 2 KiB")
