"""The words generated data is made of: artist names, song titles, people, places, devices."""

from __future__ import annotations

import math
from random import Random

_ADJECTIVES = (
    "Blue", "Broken", "Electric", "Golden", "Silent", "Wild", "Lonely", "Crazy", "Sweet",
    "Dark", "Bright", "Burning", "Cold", "Velvet", "Midnight", "Lost", "Hollow", "Neon",
    "Endless", "Secret", "Little", "Big", "Holy", "Stone", "Paper", "Silver", "Red", "Black",
    "Wicked", "Gentle", "Restless", "Faded", "Hungry", "Lucky", "Sleepy", "Savage", "Tender",
    "Frozen", "Rusty", "Crystal", "Distant", "Pale", "Heavy", "Sacred", "Strange", "Hidden",
    "Magic", "Brave", "Quiet", "Modern", "Ancient", "Liquid", "Rainy", "Sunny", "Urban",
)  # fmt: skip
_NOUNS = (
    "Heart", "River", "Fire", "Dream", "Night", "Road", "Rain", "Love", "Sky", "Ocean",
    "Train", "Angel", "Ghost", "Highway", "Moon", "Star", "City", "Garden", "Mirror",
    "Shadow", "Thunder", "Window", "Summer", "Winter", "Morning", "Sunset", "Diamond",
    "Memory", "Machine", "Mountain", "Desert", "Island", "Kingdom", "Radio", "Engine",
    "Forest", "Harbor", "Letter", "Lullaby", "Melody", "Rhythm", "Echo", "Horizon", "Candle",
    "Anthem", "Ballad", "Circus", "Planet", "Signal", "Tiger", "Falcon", "Raven", "Sparrow",
    "Cowboy", "Daughter", "Stranger", "Soldier", "Prophet", "Sailor", "Doctor",
)  # fmt: skip
_VERBS = (
    "Dance", "Run", "Fall", "Fly", "Walk", "Dream", "Drive", "Shine", "Burn", "Cry", "Sing",
    "Wait", "Hold On", "Break", "Hide", "Rise", "Stay", "Leave", "Believe", "Remember",
)  # fmt: skip
_PREPOSITIONS = ("Through", "Into", "Across", "Under", "Over", "Beyond", "Along", "Without")
_SUFFIXES = (
    " (Live)", " (LP Version)", " (Album Version)", " (Remix)", " (Instrumental)",
    " (Radio Edit)", " (Acoustic)", " (Remastered)", " (Demo)", " (Extended Mix)",
)  # fmt: skip
#: Titles that exercise quoting and UTF-8.
_SPECIAL_TITLES = (
    'The "Real" Thing', "Say \"Hello\" To Me", "Café Del Mar", "Déjà Vu", "Über Alles",
    "Niño Bonito", "Señorita", "Smörgåsbord", "Rock 'n' Roll Ain't Noise Pollution",
    "Mañana", "Ça Plane Pour Moi", "Jardin d'Hiver", "Hallelujah, Brother", "Ain't Misbehavin",
    "You Know I'm No Good", "Sylvia's Mother", "L'Été Indien", "Dónde Estás", "Für Elise",
    "Naïve Melody", "São Paulo Nights", "Crème Brûlée",
)  # fmt: skip
#: Artist names that exercise quoting and UTF-8 (each used at most once).
_SPECIAL_ARTISTS = (
    "Sigur Rós", "Björk", "Mötley Crüe", "Beyoncé", "Zoë Keating", "Ólafur Arnalds",
    "Café Tacvba", "Maná", "Héroes del Silencio", "Måneskin", "Motörhead", "Blue Öyster Cult",
    "Jóhann Jóhannsson", "Françoise Hardy", "Guns N' Roses", "Sinéad O'Connor", "Des'ree",
    "Hüsker Dü", "Édith Piaf", "Mägo de Oz", "Amadou & Mariam", "Los Fabulosos Cadillacs",
    "Dexys Midnight Runners", "Plácido Domingo", "Mø", "Röyksopp", "Emilíana Torrini",
)  # fmt: skip
_FIRST_F = (
    "Kaylee", "Lily", "Chloe", "Jacqueline", "Tegan", "Ava", "Avery", "Aleena", "Layla",
    "Rylan", "Kate", "Anabelle", "Cecilia", "Andrea", "Ann", "Adelyn", "Sara", "Mia",
)  # fmt: skip
_FIRST_M = (
    "Walter", "Jacob", "Harper", "Aiden", "Austin", "Braden", "Brantley", "Bronson", "Carlos",
    "Jayden", "Kevin", "Matthew", "Ryan", "Samuel", "Tucker", "Wyatt", "Sean", "Liam",
)  # fmt: skip
#: Rarer names that exercise UTF-8 and quoting.
_FIRST_F_SPECIAL = ("Zoë", "Renée", "Chloé", "Inés", "Mónica", "Jolène", "Maëlle", "Amélie")
_FIRST_M_SPECIAL = ("José", "André", "Björn", "Søren", "Ümit", "François", "Joaquín")
_LAST_SPECIAL = (
    "O'Brien", "D'Angelo", "Núñez", "Müller", "Peña", "Sørensen", "Dubois-Léger", "O'Neill",
)  # fmt: skip
_LAST = (
    "Frye", "Summers", "Lynch", "Levine", "Klein", "Barrett", "Arellano", "Ayala", "Banks",
    "Barrera", "Bell", "Benson", "Brock", "Burke", "Butler", "Calhoun", "Carter", "Chavez",
    "Clark", "Cook", "Cooper", "Cruz", "Davis", "Duffy", "Finley", "Fox", "Freeman", "Garrison",
    "George", "Gilmore", "Gonzalez", "Graves", "Griffin", "Harris", "Hayes", "Hicks", "Hunt",
    "Johnson", "Jones", "Jordan", "Kirby", "Koch", "Larson", "Lee", "Martin", "Moreno",
    "Owens", "Parker", "McAllister", "Norris", "Miles", "Hess",
)  # fmt: skip
USER_LOCATIONS = (
    "San Francisco-Oakland-Hayward, CA", "Phoenix-Mesa-Scottsdale, AZ",
    "Washington-Arlington-Alexandria, DC-VA-MD-WV", "San Jose-Sunnyvale-Santa Clara, CA",
    "New Orleans-Metairie, LA", "Lubbock, TX", "Harrisburg-Carlisle, PA", "Salinas, CA",
    "La Crosse-Onalaska, WI-MN", "Chicago-Naperville-Elgin, IL-IN-WI",
    "Atlanta-Sandy Springs-Roswell, GA", "Augusta-Richmond County, GA-SC",
    "Birmingham-Hoover, AL", "Dallas-Fort Worth-Arlington, TX", "Detroit-Warren-Dearborn, MI",
    "Houston-The Woodlands-Sugar Land, TX", "Los Angeles-Long Beach-Anaheim, CA",
    "Miami-Fort Lauderdale-West Palm Beach, FL", "Minneapolis-St. Paul-Bloomington, MN-WI",
    "Nashville-Davidson--Murfreesboro--Franklin, TN", "New York-Newark-Jersey City, NY-NJ-PA",
    "Philadelphia-Camden-Wilmington, PA-NJ-DE-MD", "Portland-Vancouver-Hillsboro, OR-WA",
    "Sacramento--Roseville--Arden-Arcade, CA", "Seattle-Tacoma-Bellevue, WA",
    "St. Louis, MO-IL", "Tampa-St. Petersburg-Clearwater, FL", "Winston-Salem, NC",
    "Yuba City, CA", "Mayagüez, PR", "Coeur d'Alene, ID", "Cañon City, CO",
)  # fmt: skip
USER_AGENTS = (
    '"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.36 (KHTML, like Gecko) '
    'Chrome/36.0.1985.143 Safari/537.36"',
    '"Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) '
    'Chrome/35.0.1916.153 Safari/537.36"',
    '"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.77.4 (KHTML, like Gecko) '
    'Version/7.0.5 Safari/537.77.4"',
    '"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) '
    'Ubuntu Chromium/36.0.1985.125 Chrome/36.0.1985.125 Safari/537.36"',
    '"Mozilla/5.0 (Windows NT 6.3; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) '
    'Chrome/36.0.1985.143 Safari/537.36"',
    '"Mozilla/5.0 (iPhone; CPU iPhone OS 7_1_2 like Mac OS X) AppleWebKit/537.51.2 '
    '(KHTML, like Gecko) Version/7.0 Mobile/11D257 Safari/9537.53"',
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.9; rv:31.0) Gecko/20100101 Firefox/31.0",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:31.0) Gecko/20100101 Firefox/31.0",
    "Mozilla/5.0 (Windows NT 5.1; rv:31.0) Gecko/20100101 Firefox/31.0",
)
#: Artist home towns: (location, latitude, longitude).
CITIES: tuple[tuple[str, float, float], ...] = (
    ("Toronto, Ontario, Canada", 43.64856, -79.38533),
    ("Fort Worth, TX", 32.74863, -97.32925),
    ("New York, NY", 40.71455, -74.00712),
    ("Los Angeles, CA", 34.05349, -118.24532),
    ("Chicago, IL", 41.88415, -87.63241),
    ("Nashville, TN", 36.16778, -86.77836),
    ("Detroit, MI", 42.33168, -83.04792),
    ("Seattle, WA", 47.60356, -122.32944),
    ("Atlanta, GA", 33.74831, -84.39111),
    ("London, England", 51.50632, -0.12714),
    ("Manchester, England", 53.47960, -2.24881),
    ("Dublin, Ireland", 53.34376, -6.24953),
    ("Paris, France", 48.85692, 2.34121),
    ("Berlin, Germany", 52.51607, 13.37698),
    ("Köln, Germany", 50.94165, 6.95505),
    ("Stockholm, Sweden", 59.33217, 18.06243),
    ("Malmö, Sweden", 55.60587, 13.00073),
    ("Reykjavík, Iceland", 64.13586, -21.89541),
    ("Montréal, Québec, Canada", 45.51228, -73.55439),
    ("São Paulo, Brazil", -23.56288, -46.65423),
    ("México, D.F.", 19.43194, -99.13307),
    ("Kingston, Jamaica", 18.01605, -76.79698),
    ("Sydney, Australia", -33.86963, 151.20695),
    ("Tokyo, Japan", 35.68501, 139.75140),
    ("Zürich, Switzerland", 47.37688, 8.53977),
    ("Bogotá, Colombia", 4.59805, -74.07603),
    ("Memphis, TN", 35.14968, -90.04892),
    ("Austin, TX", 30.26759, -97.74299),
    ("Wisner, LA", 31.99413, -91.65512),
    ("Beverly Hills, CA", 34.07312, -118.39916),
)  # fmt: skip


class Names:
    """Artist names and song titles."""

    def __init__(self, rng: Random) -> None:
        self._rng = rng
        specials = list(_SPECIAL_ARTISTS)
        rng.shuffle(specials)
        self._special_artists = specials

    def person(self) -> str:
        rng = self._rng
        return f"{first_name(rng, rng.random() < 0.5)} {last_name(rng)}"

    def artist(self) -> str:
        rng = self._rng
        r = rng.random()
        if r < 0.02 and self._special_artists:
            return self._special_artists.pop()
        if r < 0.025:
            return ";".join(self.person() for _ in range(rng.randint(3, 6)))
        if r < 0.35:
            return self.person()
        if r < 0.55:
            return f"The {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}s"
        if r < 0.70:
            return f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
        if r < 0.80:
            return f"{rng.choice(_NOUNS)} {rng.choice(_NOUNS)}"
        if r < 0.86:
            return f"{self.person()} & The {rng.choice(_NOUNS)}s"
        if r < 0.92:
            return f"{rng.choice(('DJ', 'MC', 'Lil'))} {rng.choice(_NOUNS)}"
        return f"{rng.choice(_LAST)} feat. {self.person()}"

    def title(self) -> str:
        rng = self._rng
        r = rng.random()
        if r < 0.025:
            return rng.choice(_SPECIAL_TITLES)
        if r < 0.25:
            base = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
        elif r < 0.40:
            base = f"{rng.choice(_VERBS)} {rng.choice(_PREPOSITIONS)} The {rng.choice(_NOUNS)}"
        elif r < 0.50:
            base = f"{rng.choice(_NOUNS)} Of {rng.choice(_NOUNS)}"
        elif r < 0.58:
            base = f"Don't {rng.choice(_VERBS)}"
        elif r < 0.64:
            base = f"I Can't {rng.choice(_VERBS)} Without You"
        elif r < 0.72:
            name = rng.choice(_FIRST_F + _FIRST_M)
            base = f"{name}'s {rng.choice(_NOUNS)}"
        elif r < 0.80:
            base = rng.choice(_NOUNS)
        elif r < 0.88:
            base = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}s"
        else:
            base = f"Ain't No {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
        if rng.random() < 0.15:
            base += rng.choice(_SUFFIXES)
        return base


def first_name(rng: Random, female: bool) -> str:
    if rng.random() < 0.06:
        return rng.choice(_FIRST_F_SPECIAL if female else _FIRST_M_SPECIAL)
    return rng.choice(_FIRST_F if female else _FIRST_M)


def last_name(rng: Random) -> str:
    return rng.choice(_LAST_SPECIAL if rng.random() < 0.08 else _LAST)


def song_duration(rng: Random) -> float:
    seconds = rng.lognormvariate(math.log(235.0), 0.38)
    return round(min(1800.0, max(15.0, seconds)), 5)
