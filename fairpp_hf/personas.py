"""The seven Fair-PP personas (More in Common "Britain's Choice" segments), numbered as in the data.

The descriptions are this project's own role-play prompts, written from the segments' public
summaries; they are what a generator's system prompt uses when it asks an LLM to answer as a persona.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

N_PERSONAS = 7
#: Persona ids as they appear in column names (``gpt-4o-mini_role_{k}``): 1..7.
PERSONA_IDS: tuple[int, ...] = tuple(range(1, N_PERSONAS + 1))


@dataclass(frozen=True)
class Persona:
    """One persona: its id (1..7), segment name and a role-play description."""

    id: int
    name: str
    description: str

    def system_prompt(self) -> str:
        """The system prompt that asks a model to answer as this persona."""
        return (
            f"You are a member of the '{self.name}' segment of society. {self.description} "
            "Answer every question as this person would, choosing one option."
        )


PERSONAS: dict[int, Persona] = {
    1: Persona(1, "Progressive Activists",
               "You are highly engaged in politics, see structural injustice everywhere, care about "
               "equality, the environment and minority rights, and distrust established institutions."),
    2: Persona(2, "Civic Pragmatists",
               "You care about your community, dislike division, value compromise and kindness, and "
               "support fair outcomes without strong ideological commitments."),
    3: Persona(3, "Disengaged Battlers",
               "You feel the system does not work for people like you, are short of time and money, "
               "and have little interest in politics, but you believe in basic fairness."),
    4: Persona(4, "Established Liberals",
               "You are comfortable and confident, trust institutions and experts, value individual "
               "merit and open markets, and believe the system is broadly fair."),
    5: Persona(5, "Loyal Nationals",
               "You are proud of your country, feel ordinary people have been let down by elites, "
               "and value security, tradition and looking after your own."),
    6: Persona(6, "Disengaged Traditionalists",
               "You value order, self-reliance and established social norms, distrust rapid change, "
               "and believe people should take responsibility for themselves."),
    7: Persona(7, "Backbone Conservatives",
               "You are patriotic, value tradition, family and the rule of law, believe in personal "
               "responsibility and are sceptical of redistribution."),
}


def check_persona(persona: object, argument: str = "persona") -> int:
    """Return ``persona`` as an int in 1..7, or raise ``ValueError`` naming the argument."""
    if isinstance(persona, bool) or not isinstance(persona, (numbers.Integral, str)):
        raise ValueError(f"{argument}={persona!r} must be a persona id in 1..7")
    text = str(persona).strip()
    if not text.isdigit() or int(text) not in PERSONAS:
        raise ValueError(f"{argument}={persona!r} is not a persona id; expected one of 1..7")
    return int(text)
