"""Partenaires: the partner organisations by kind, their offers, staff and notification channels.

Read-only, for every role. The service decides what each reader sees: the coordinator also sees
the staff's e-mail addresses and the channels, masked (the scheme and host, never a password,
token or webhook path) with their tags.
"""

from __future__ import annotations

import streamlit as st

from crealux_core.rules.specs import OrganisationKind
from crealux_core.services.organisations import (
    KIND_LABELS,
    PartnerView,
    list_partners,
)
from dashboards import context
from dashboards.display import ROLE_LABELS, md

ALL_KINDS = "all"


def offers(view: PartnerView) -> None:
    if not view.offers:
        st.caption("Aucune offre enregistrée.")
        return
    lines = []
    for offer in view.offers:
        line = f"- **{md(offer.title)}** ({offer.summary}) · `{offer.key}`"
        if offer.description:
            line += f"  \n  {md(offer.description)}"
        lines.append(line)
    st.markdown("**Offre**\n\n" + "\n".join(lines))


def staff(view: PartnerView) -> None:
    if not view.staff:
        st.caption("Aucun compte dans CREALux.")
        return
    lines = []
    for member in view.staff:
        line = f"- {md(member.display_name)} ({ROLE_LABELS.get(member.role, member.role)})"
        if member.email:
            line += f" · {md(member.email)}"
        lines.append(line)
    st.markdown("**Équipe**\n\n" + "\n".join(lines))


def channels(view: PartnerView) -> None:
    if view.channels is None:  # not for this reader
        return
    if not view.channels:
        st.warning("Aucun canal de notification : cette organisation n'est prévenue de rien.")
        return
    lines = []
    for channel in view.channels:
        tags = ", ".join(f"`{tag}`" for tag in channel.tags) or "aucune"
        lines.append(f"- {channel.service} · `{channel.url}` · étiquettes : {tags}")
    digest = "  \nRésumé quotidien au lieu d'un message par étape." if view.digest else ""
    st.markdown("**Canaux de notification**" + digest + "\n\n" + "\n".join(lines))


def partner(view: PartnerView) -> None:
    with st.container(border=True):
        own = " · *votre organisation*" if view.own else ""
        st.markdown(f"#### {md(view.name)}\n`{view.key}`{own}")
        offers(view)
        staff(view)
        channels(view)


def render() -> None:
    ctx = context.current()
    st.title("Partenaires")
    st.caption(
        "Les organisations du partenariat, ce qu'elles proposent et qui y travaille "
        "(fichier rules/organisations.yaml)."
    )
    kind_col, search_col = st.columns([2, 3])
    kinds = [ALL_KINDS, *OrganisationKind]
    kind = kind_col.selectbox(
        "Type d'organisation",
        options=kinds,
        format_func=lambda key: "Tous les types" if key == ALL_KINDS else KIND_LABELS[key],
        key="partners-kind",
    )
    search = search_col.text_input(
        "Rechercher", placeholder="nom, offre, personne…", key="partners-search"
    )
    with ctx.runtime.session() as session:
        found = list_partners(
            session=session,
            rules=ctx.runtime.rules,
            user=ctx.user,
            kind=None if kind == ALL_KINDS else OrganisationKind(kind),
            search=search,
        )
    if not found:
        st.info("Aucune organisation ne correspond.")
        return
    st.caption(f"{len(found)} organisation(s).")
    current: OrganisationKind | None = None
    for view in found:
        if view.kind is not current:
            current = view.kind
            st.subheader(view.kind_label)
        partner(view)


render()
