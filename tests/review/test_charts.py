"""The review's charts as plain data: laid out without a request or a database."""

from datetime import datetime, timedelta

from dispatch.reports import Series
from review.charts import bar_chart, median_chart


def hours(count: int) -> list[datetime]:
    start = datetime(2021, 7, 20, 18, 0)
    return [start + timedelta(hours=n) for n in range(count)]


def test_it_draws_medians_of_seconds_on_an_axis_of_whole_minutes():
    start = datetime(2021, 7, 20, 18, 0)
    series = Series(
        unit="hour",
        buckets=[start, start + timedelta(hours=1)],
        median_accept_seconds=[1.0, 3.0],
        median_arrive_seconds=[None, 20.0],
    )
    groups = [
        {"name": "to accept", "class": "accept", "values": series.median_accept_seconds},
        {"name": "to arrive", "class": "arrive", "values": series.median_arrive_seconds},
    ]

    chart = median_chart(key="medians", title="Medians", series=series, groups=groups)

    assert [tick["label"] for tick in chart["y_ticks"]] == ["0", "0.25", "0.5", "0.75", "1"]


def test_it_stacks_bars_on_a_round_axis_with_the_total():
    series = Series(unit="hour", buckets=hours(3), person_times=[3, 0, 7])
    parts = [
        {"name": "people", "class": "people", "values": [2, 0, 7]},
        {"name": "vehicles", "class": "vehicles", "values": [1, 0, 0]},
    ]

    chart = bar_chart(key="work", title="Work", series=series, parts=parts)

    assert [tick["label"] for tick in chart["y_ticks"]] == ["0", "2", "4", "6", "8"]
    assert chart["total"] == "10"
    # An empty hour has no bar; the first hour's two parts stand on each other.
    first, second, third = chart["bars"]
    assert (first["class"], second["class"], third["class"]) == ("people", "vehicles", "people")
    assert second["y"] + second["height"] == first["y"]
    assert first["height"] == 2 * second["height"]
    assert third["height"] == chart["plot_height"] * 7 / 8
    assert chart["legend"] == [
        {"name": "people", "class": "people"},
        {"name": "vehicles", "class": "vehicles"},
    ]


def test_it_draws_an_empty_range_on_an_axis_of_one():
    series = Series(unit="day", buckets=hours(2), incidents=[0, 0])
    parts = [{"name": "incidents", "class": "incidents", "values": [0, 0]}]

    chart = bar_chart(key="incidents", title="Incidents", series=series, parts=parts)

    assert chart["bars"] == []
    assert [tick["label"] for tick in chart["y_ticks"]][-1] == "1"
    assert chart["legend"] == []  # one part needs no legend
