"""The arm32 MSM IOMMU v0 of APQ8064 and MSM8960 (msm-iommu): drivers/iommu/msm_iommu.c."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .. import ast
from ..diagnostics import Label
from .base import GENERIC_GROUP, Contexts, Kind

if TYPE_CHECKING:
    from ..model import Device, Iommu, IommuLink
    from ..validate import Builder

MSM_C = "drivers/iommu/msm_iommu.c"


class MsmIommu(Kind):
    def check_iommu(self, builder: Builder, node: ast.Iommu, disabled: bool) -> None:
        """msm_iommu_probe needs the node's qcom,ncb (E132)."""
        if not disabled and not any(isinstance(p, ast.Contexts) for p in node.props):
            builder.err(
                "E132",
                f"msm-iommu '{node.name.text}' needs 'contexts', its node's qcom,ncb",
                node.span,
                help="msm_iommu_probe fails without qcom,ncb ('could not get ncb'); write "
                "'contexts N', or 'disabled' when the node has none",
            )

    def check_board(
        self, builder: Builder, iommus: Sequence[Iommu], devices: dict[str, Device]
    ) -> None:
        """insert_iommu_master keeps one master per IOMMU (E131)."""
        mine = {i.name for i in iommus}
        masters: dict[str, tuple[Device, IommuLink]] = {}  # IOMMU -> its one master
        for dev in sorted(devices.values(), key=lambda d: d.probe_order):
            for link in dev.iommus:
                if link.iommu not in mine:
                    continue
                first = masters.setdefault(link.iommu, (dev, link))
                if first[0] is not dev:
                    builder.err(
                        "E131",
                        f"msm-iommu '{link.iommu}' serves one master, '{first[0].name}': "
                        f"'{dev.name}' cannot be a second",
                        link.span,
                        secondary=(Label(first[1].span, "its master"),),
                        help="insert_iommu_master keeps one master per IOMMU (ctx_list), and "
                        "the driver finds a device only as the first master of an IOMMU "
                        "(find_iommu_for_dev): give the device its own IOMMU node",
                    )


MSM_IOMMU = MsmIommu(
    name="msm-iommu",
    driver=MSM_C,
    notes="the arm32 MSM IOMMU v0 of APQ8064/MSM8960, `E130` elsewhere; `contexts` is "
    "`qcom,ncb`; one group per device; a domain takes the lowest free bank on every IOMMU its "
    "device is master of, -ENODEV when one has none; no default domain before 6.7, identity "
    "from 6.7; `std/iommu/msm-iommu`",
    pack="std/iommu/msm-iommu",
    # msm_iommu_dt_match, before the generic "qcom," of the qcom-smmu kinds
    compatibles=("qcom,apq8064-iommu",),
    arch=("arm", "drivers/iommu/Kconfig: MSM_IOMMU depends on ARM"),
    selects_arm_dma_use_iommu=None,
    streams=frozenset({"sid"}),
    stream_doc="`sid N` (master ID)",
    cells=1,
    xlate=f"{MSM_C}: qcom_iommu_of_xlate (insert_iommu_master: the cell is a master ID, MID, of "
    "the IOMMU's one master)",
    dt_stream="sid",
    smr=False,
    pci=False,
    pci_note="",
    pci_claim=None,
    pci_only=None,
    probes_unbound=False,
    quirks=frozenset(),
    pci_groups=False,
    group_source=GENERIC_GROUP,
    fq_alloc=False,
    deferred_flush=None,
    static_default=None,
    span=f"{MSM_C}: msm_iommu_attach_dev (priv->list_attached)",
    no_span=None,
    # msm_iommu_attach_dev takes a context bank on every IOMMU whose master the device is
    # (the APQ8064 GPU's gfx3d and gfx3d1)
    all_links=True,
    single_client=None,
    shared_page_table=False,
    shared_arm_mapping=None,
    iova_regions=None,
    contexts=Contexts(
        max=None,
        first=0,
        # msm_iommu_attach_dev turns msm_iommu_alloc_ctx's failure into -ENODEV
        errno="-ENODEV",
        uncounted=None,
        pool=None,
        source=f"{MSM_C}: msm_iommu_attach_dev (msm_iommu_alloc_ctx)",
        fixed=False,
        release_on_leave=None,
        id_text="domain ID {n} (not a scarce resource)",
    ),
    passes_unattached=None,
    faults_unattached=None,
    arch_dma=None,
    aperture=None,
)

KINDS = (MSM_IOMMU,)
