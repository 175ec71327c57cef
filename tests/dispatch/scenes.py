"""Where the dispatch tests' scenes happen."""

SITE = (34.610, 113.680)  # 龙湖镇, the north of the city
KM = 1 / 111  # a kilometre of latitude, near enough
