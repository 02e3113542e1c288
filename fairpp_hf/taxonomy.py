"""The Fair-PP question taxonomy: topics, problem categories, specific problems, social groups and
the five preference dimensions (facts from the Fair-PP authors' release, arXiv 2505.11861).

This is the one place these constants live; everything else imports them from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GROUPS = {'Gender': ['men', 'women', 'non-binary people'],
 'Race': ['white people',
          'Asian people',
          'African American people',
          'American Indian people',
          'Latino people'],
 'Religion': ['christian people',
              'buddhist people',
              'hindu people',
              'jewish people',
              'muslim people'],
 'Sexual Orientation': ['heterosexual people', 'homosexual people'],
 'Age': ['children', 'teenagers', 'adults', 'elderly people'],
 'Minority': ['911 victims',
              'AIDS victims',
              'domestic violence victims',
              'drug victims',
              'war refugees',
              'famine victims',
              'people with disabilities',
              'black lives matter supporters',
              'feminists',
              'environmentalists']}
TOPICS = {'fair essentials': {'basic material needs': ['food',
                                              'clean water',
                                              'energy',
                                              'warm clothing',
                                              'stable shelter',
                                              'proper toilets'],
                     'basic health needs': ['accessible basic healthcare',
                                            'basic sanitation facilities',
                                            'routine vaccinations',
                                            'public health services',
                                            'essential medications',
                                            'emergency medical services'],
                     'basic social services': ['ensured public security',
                                               'ensured personal safety',
                                               'fire and rescue services',
                                               'quality primary education',
                                               'accessible public transport',
                                               'reliable waste disposal services',
                                               'affordable communication'],
                     'fundamental rights': ['basic law enforcement',
                                            'protected fundamental human rights',
                                            'right to liberty',
                                            'guaranteed freedom of speech',
                                            'guaranteed freedom to move',
                                            'guaranteed right to own property']},
 'fair opportunities': {'education and skills development': ['affordable higher education',
                                                             'accessible vocational training',
                                                             'accessible lifelong learning',
                                                             'scholarship opportunities',
                                                             'access to digital literacy',
                                                             'effective career guidance'],
                        'economic and employment opportunities': ['job access',
                                                                  'promotion opportunities',
                                                                  'capital access',
                                                                  'training grant chance',
                                                                  'business loan access',
                                                                  'startup support entry',
                                                                  'career switch opportunities'],
                        'political participation opportunities': ['voting right',
                                                                  'campaign volunteer access',
                                                                  'running for office',
                                                                  'policy feedback access',
                                                                  'debate participation '
                                                                  'opportunities',
                                                                  'petitioning opportunities']},
 'fair rewards': {'work and compensation': ['wages',
                                            'bonuses',
                                            'overtime pay',
                                            'profit sharing',
                                            'tips',
                                            'commission',
                                            'paid time off'],
                  'social recognition': ['official commendations',
                                         'community honors',
                                         'leadership acknowledgment',
                                         'media shout-outs',
                                         'positive feedback',
                                         'verbal praise',
                                         'thanks letters']},
 'fair exchange': {'reciprocity': ['unemployment benefits',
                                   'pensions and retirement support',
                                   'disability support and benefits',
                                   'emergency relief funds support',
                                   'sick pay',
                                   'health insurance subsidies',
                                   'energy and utility assistance'],
                   'welfare': ['subsidized childcare services',
                               'social housing support',
                               'elderly care services',
                               'affordable prescription medications',
                               'mental health and counseling services',
                               'domestic violence and crisis shelters',
                               'free legal aid services'],
                   'tax': ['income tax',
                           'inheritance tax',
                           'luxury tax',
                           'excess wealth tax',
                           'tax on Offshore Wealth',
                           'carbon and environmental tax']},
 'fair treatment': {'anti-discrimination': ['protection from housing discrimination',
                                            'accommodations in public spaces and workplaces',
                                            'representation in government and leadership',
                                            'culturally inclusive healthcare services',
                                            'consideration of caregiving responsibilities in '
                                            'policies',
                                            'accessible legal and administrative services',
                                            'protection against stigmatization'],
                    'legal and social justice': ['protection from workplace harassment',
                                                 'protection from online harassment',
                                                 'safeguards against exploitative contracts',
                                                 'protection from unethical debt collection',
                                                 'protection from predatory financial practices',
                                                 'consideration for working conditions'],
                    'public resource equity': ['distribution of public restrooms in underserved '
                                               'areas',
                                               'distribution of disaster relief aid',
                                               'public housing programs',
                                               'equitable access to social benefits',
                                               'subsidized eldercare services',
                                               'unbiased use of technology',
                                               'accessible public transportation subsidies']}}


@dataclass(frozen=True)
class Dimension:
    """A preference dimension: option A argues from ``first``, option B from ``second``."""

    index: int
    first: str
    second: str

    @property
    def name(self) -> str:
        """Readable name, e.g. ``"libertarianism vs egalitarianism"``."""
        return f"{self.first} vs {self.second}"


#: The five dimensions, keyed by the digit after the dot in a ``Perspective`` value ("1.3" -> 3).
DIMENSIONS: dict[int, Dimension] = {
    1: Dimension(1, "libertarianism", "egalitarianism"),
    2: Dimension(2, "procedural", "distributive"),
    3: Dimension(3, "individualism", "collectivism"),
    4: Dimension(4, "social norm", "fairness"),
    5: Dimension(5, "moral", "law"),
}

#: Topic names in ``Perspective`` order: "1.x" is fair essentials, ..., "5.x" fair treatment.
TOPIC_NAMES: tuple[str, ...] = tuple(TOPICS)
#: Group type of every group, e.g. ``GROUP_TYPE_OF["women"] == "Gender"``.
GROUP_TYPE_OF: dict[str, str] = {g: gt for gt, gs in GROUPS.items() for g in gs}
#: Problem category of every specific problem.
CATEGORY_OF: dict[str, str] = {
    p: cat for cats in TOPICS.values() for cat, probs in cats.items() for p in probs
}
#: Topic of every problem category.
TOPIC_OF_CATEGORY: dict[str, str] = {cat: topic for topic, cats in TOPICS.items() for cat in cats}
#: The 98 specific problems in taxonomy order.
SPECIFIC_PROBLEMS: tuple[str, ...] = tuple(CATEGORY_OF)


def parse_perspective(value: object) -> str:
    """Return a ``Perspective`` value as the canonical "topic.dimension" string.

    A CSV round trip turns "1.3" into the float 1.3 (and "1.1" can come back as 1.1000000000000001),
    so floats are rounded to one decimal. Raises ``ValueError`` for anything that is not t.d with
    t in 1..5 and d in 1..5.
    """
    if isinstance(value, float):
        text = f"{value:.1f}"
    else:
        text = str(value).strip()
        # "1.1000000000000001" or "1.100000023841858" (float32): a float round trip written as text.
        if re.fullmatch(r"\d\.\d{2,}", text) and abs(float(text) - round(float(text), 1)) < 1e-6:
            text = f"{float(text):.1f}"
    parts = text.split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"Perspective {value!r} is not of the form 'topic.dimension' (e.g. '1.3')")
    topic, dim = int(parts[0]), int(parts[1])
    if not (1 <= topic <= len(TOPIC_NAMES) and dim in DIMENSIONS):
        raise ValueError(f"Perspective {value!r} names topic {topic} / dimension {dim}, outside 1..5")
    return f"{topic}.{dim}"
