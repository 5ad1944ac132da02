"""Every diagnostic code iommu-rules emits: what it means, why, and an example.

rustc's ``--explain`` is the model.  Each code has one :class:`Code` record in
:data:`CODES`: its severity, a one-line summary (the meaning column of the
Diagnostics tables in docs/language.md, which :func:`markdown_tables` renders
and a test keeps equal), an explanation (what the problem is, why the kernel
or the tool refuses it, citing the kernel function the check mirrors, and how
to fix it) and an example that raises it.  :func:`explain_text` renders one
code the way ``iommu-rules explain CODE`` prints it.

Codes: ``E0xx`` reading and parsing a file, ``E1xx`` loading and validating the
model, ``E2xx`` groups and default domains, ``E3xx`` contexts and driver
domains, ``E4xx`` expectations, ``E5xx`` what-if changes, ``E6xx`` the REPL,
``E8xx`` the importers; ``W2xx`` lints of a resolved board, ``W8xx`` the
importers' warnings.

This module is data and a formatter: it imports nothing that parses or resolves
(no lark, no networkx), so looking a code up costs nothing.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from enum import StrEnum

from .diagnostics import Severity, did_you_mean

WIDTH = 80  # explain_text wraps its prose at this column
INDENT = "    "  # how far explain_text indents the example


class ExampleKind(StrEnum):
    """What a code's example is, and so where it goes to raise the code."""

    RULE_FILE = "rule file"  # the text of example.iommu: `iommu-rules check example.iommu`
    SHELL = "shell"  # commands typed in an empty directory, each line starting '$ '
    CHANGE = "what-if change"  # a change as the REPL's `try` and `iommu-rules whatif` take it
    REPL = "REPL input"  # a line typed at the `iommu-rules repl` prompt
    LISTING = "listing"  # listing.txt: `iommu-rules import listing listing.txt`
    DEVICE_TREE = "device tree"  # board.dts: `iommu-rules import dts board.dts`


@dataclass(frozen=True)
class Code:
    """One diagnostic code."""

    code: str  # "E104"
    severity: Severity  # E codes are errors, W codes warnings
    summary: str  # one line: the docs' meaning column
    explanation: str  # paragraphs separated by blank lines, not wrapped
    example: str  # text that raises the code, as example_kind says
    example_kind: ExampleKind


def _text(block: str) -> str:
    """An example written indented in this file, as the text it stands for."""
    return textwrap.dedent(block).strip("\n") + "\n"


def _error(
    code: str,
    summary: str,
    explanation: str,
    example: str,
    kind: ExampleKind = ExampleKind.RULE_FILE,
) -> Code:
    return Code(code, Severity.ERROR, summary, explanation, _text(example), kind)


def _warning(
    code: str,
    summary: str,
    explanation: str,
    example: str,
    kind: ExampleKind = ExampleKind.RULE_FILE,
) -> Code:
    return Code(code, Severity.WARNING, summary, explanation, _text(example), kind)


_SHELL = ExampleKind.SHELL
_CHANGE = ExampleKind.CHANGE
_REPL = ExampleKind.REPL
_LISTING = ExampleKind.LISTING
_DTS = ExampleKind.DEVICE_TREE

_ALL = (
    # -------------------------------------------------------- E0xx: parsing one file
    _error(
        "E001",
        "Syntax error: an unexpected token, an unknown statement or keyword (with "
        '"did you mean"), a missing `:` after a name, or a `}` too many.',
        "The file does not follow the grammar (grammar/iommu.lark) here: the parser met a "
        "token it cannot use at this point. The label lists what the grammar expected; for a "
        "misspelt statement or keyword the help suggests the closest one, and for a quoted "
        'name (`iommu "smmu"`) it shows the name without quotes. Common causes are a missing '
        "`:` between a name and its kind or compatible, a `}` too many, and `on IOMMU` or a "
        "list after `default of DEVICE`.\n\n"
        "After a syntax error the file is read again statement by statement (a statement "
        "starts in column 1 with a top-level keyword), so every broken statement is reported "
        "and the others are still checked. Names defined in a broken statement are missing, "
        "so unknown-name errors wait until the syntax is fixed.",
        """
        device gpu "vendor,gpu"
        """,
    ),
    _error(
        "E002",
        "A character that cannot start any token.",
        "The lexer found a character that begins no token of the language, for example a "
        "C-style `//` comment, a `$` or a stray quote character from a word processor. "
        "Comments start with `#`; names are letters, digits, `_` and inner `-`; punctuation "
        "is `{ } ( ) [ ] : ; , . .. + =` and the comparisons. Remove the character or write "
        "what the label says the grammar expected.",
        """
        // the GPU
        device gpu: "vendor,gpu"
        """,
    ),
    _error(
        "E003",
        "Unterminated string: strings end on the line they start.",
        'A string opened with `"` has no closing `"` on the same line. Strings (compatibles, '
        "include paths, rule names, the command line, `because` and `source` texts) cannot "
        'span lines. Add the closing quote; write `\\"` for a quote inside a string.',
        """
        device gpu: "vendor,gpu
        """,
    ),
    _error(
        "E004",
        "Unexpected end of file, typically a missing `}` (the unclosed `{` is shown).",
        "The file ended, or a new top-level statement began, while a statement was still "
        "open: usually a block whose `{` has no `}`. The diagnostic points at the end of the "
        "file, or at the statement that starts inside the block, and shows the unclosed `{` "
        "as a related place. Close the block with `}`.",
        """
        device gpu: "vendor,gpu" {
            dma-mask 32
        """,
    ),
    _error(
        "E005",
        "Unknown word where the grammar has a closed list: iommu kind, domain type, driver "
        "domain kind, bridge kind, driver flag, quirk, PCI capability, architecture, "
        "`yes`/`no`.",
        "Some positions take one word out of a fixed list: the IOMMU kind after `iommu NAME:`, "
        "a domain type after a verb, the kind of a driver-built `domain`, a bridge kind, the "
        "flags after `driver`, a `quirk`, a PCI capability after `caps` or `cap`, the "
        "architecture after `arch`, and `yes` or `no` after `acs`. The word here is not one "
        "of them; the label lists them all and the help suggests the closest. The lists are "
        "the grammar's, so `iommu-rules` and the docs never disagree on them.",
        """
        iommu smmu: arm-smu
        """,
    ),
    _error(
        "E006",
        "NUL byte in the input (a binary file?).",
        "The text holds a NUL character, which no rule file contains: it is most likely a "
        "binary file (a .dtb, an object file) given by mistake, or a file a tool corrupted. "
        "The file is not parsed at all. Give the rule file itself; a device tree is turned "
        "into one with `iommu-rules import dts`.",
        r"""
        $ printf 'platform { arch arm }\0\n' > example.iommu
        $ iommu-rules check example.iommu
        """,
        _SHELL,
    ),
    _error(
        "E007",
        "Selector, condition, value or `when` blocks nested deeper than 200 levels.",
        "A selector (`not`, `and`, `or`), a `when` condition, an expectation's list value or "
        "`when` blocks inside one another nest more than 200 levels deep. No real rule needs "
        "that; the limit keeps a generated or hostile file from exhausting the parser's "
        "stack. Split the selector or condition into several rules, join nested `when` "
        "blocks into one (`when A and B { ... }`), or flatten the list.",
        """
        # a list value nested 201 levels deep
        expect gpu.group_members ==
        [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[
        [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[
        [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[
        [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[
        [ gpu ]
        ]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]
        ]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]
        ]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]
        ]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]
        """,
    ),
    # -------------------------------------------------------- E1xx: loading, validating
    _error(
        "E101",
        "Duplicate name: devices, IOMMUs, bridges and domains share one namespace; or a "
        "duplicate rule name.",
        "Devices, IOMMUs, bridges and driver-built domains share one namespace, so a name can "
        "be defined once across every file the board loads, whatever kind of statement "
        "defines it. Rule names are a namespace of their own, also across all files and "
        "packs: what-if drops a rule by its name and `why` shows it, so two rules cannot "
        "share one. Rename one of the two; the related place shows the first definition.",
        """
        iommu smmu: arm-smmu
        device smmu: "vendor,dma-engine"
        """,
    ),
    _error(
        "E102",
        "A `platform` property that may be given once (`arch`, `kernel`, `cmdline`) given "
        "twice, or a `config` symbol set to two different values.",
        "A board runs one kernel on one architecture with one command line, so `arch`, "
        "`kernel` and `cmdline` may each be given once across all `platform` blocks. A "
        "`config` symbol may be repeated, but only with the same value: a kernel is built "
        "with one value per symbol, and letting the last one win would make the result "
        "depend on the order of includes. Keep one of the two.",
        """
        platform { kernel 6.7 }
        platform { kernel 6.8 }
        """,
    ),
    _error(
        "E103",
        "Unknown device in `attach`, or unknown subject of an `expect`.",
        "A `domain` attaches (or, with `default of`, names) a device the board does not "
        "define, or an `expect` is about a name that is neither a device, an IOMMU, a "
        "driver-built domain nor `system`. The help suggests the closest name. Define the "
        "device or correct the name.",
        """
        iommu mc: tegra-smmu
        domain drm: unmanaged on mc { attach gr3d }
        """,
    ),
    _error(
        "E104",
        "Unknown IOMMU (in a device's `iommu`, a `domain ... on`, a selector `on`, or "
        "`context IOMMU.N`).",
        "The name after a device's `iommu`, a domain's `on`, the `on` selector or a "
        "`context IOMMU.N reserved for` rule is not an IOMMU the board defines. The help "
        "suggests the closest IOMMU name. Define the IOMMU (an `iommu NAME: KIND` statement, "
        "or the SoC's fact pack with `include`) or correct the name.",
        """
        iommu smmu: arm-smmu
        device gpu: "qcom,adreno" { iommu smu sid 0x0 }
        """,
    ),
    _error(
        "E105",
        "Unknown bridge in `upstream`.",
        "A device's or bridge's `upstream` names a bridge the board does not define. The "
        "`upstream` chain is the PCI hierarchy that decides groups (`pci_device_group` walks "
        "it for ACS), so it must name real bridges. Define the bridge with `bridge NAME: "
        "root-port|switch-port|pci-bridge` or correct the name.",
        """
        device nic: "pci8086,1533" { pci 0000:04:00.0; upstream rp0 }
        """,
    ),
    _error(
        "E106",
        "Unknown device or tag in a selector.",
        "A word in a rule's selector selects the device of that name and every device with "
        "that tag, but no device has this name or tag. The help suggests the closest one. "
        "Selectors in stdlib packs are exempt (a pack may speak of tags a board does not "
        "use); in the board's own files a word that selects nothing is almost always a "
        "typo. Correct the word, or add the tag to the devices it means.",
        """
        device gpu: "vendor,gpu"
        rule gpus excludes implicit
        """,
    ),
    _error(
        "E108",
        "Wrong stream form for the IOMMU kind (e.g. `swgroup` on arm-smmu), or a missing "
        "stream where the kind needs one; a second `sid` (PE) for a `spapr-tce` function.",
        "Each IOMMU kind reads a client's `iommus` cells its own way (the driver's `of_xlate`: "
        "`arm_smmu_of_xlate` a stream ID, `tegra_smmu_of_xlate` a swgroup, "
        "`qcom_iommu_of_xlate` a context), so a device must write the stream form its "
        "IOMMU's kind takes, and must write one where the kind needs it; the kinds table in "
        "docs/language.md lists the forms. On POWER a PCI function is in one PE "
        "(`pnv_pci_ioda_dma_dev_setup`), so its `spapr-tce` link takes one `sid`. The help "
        "shows the form the kind takes.",
        """
        iommu smmu: arm-smmu
        device dc: "nvidia,tegra30-dc" { iommu smmu swgroup dc }
        """,
    ),
    _error(
        "E109",
        "A stream that does not fit: more cells than `#iommu-cells` (`cells`), or a stream "
        "ID or mask wider than `stream-bits`; a `map` entry's `smr-mask` on an IOMMU with "
        "one cell; a LIODN past the `fsl-pamu` PAACT's 0x500 entries.",
        "A stream with an SMR `mask` is a two-cell specifier, so the IOMMU needs `cells 2` "
        "(its node's `#iommu-cells`); without a mask arm-smmu uses the node's "
        "`stream-match-mask`. A stream ID or mask must fit in `stream-bits`: "
        '`arm_smmu_probe_device` refuses it ("stream ID 0x%x out of range for SMMU '
        "(0x%x)\"). A `map` entry's `smr-mask` is an arm-smmu specifier's second cell, so "
        "it needs an arm-smmu kind with `cells 2`, fits in `stream-bits`, and maps one ID "
        '(`of_map_id`: "cannot handle %d-ID range"). On a QorIQ PAMU a LIODN indexes the '
        "PAACT, which has 0x500 entries: `fsl_pamu_attach_device` fails a device past it and "
        "`setup_liodns` skips it. Fix the cells, the stream or the mask; for a LIODN, check "
        "the `fsl,liodn` U-Boot wrote.",
        """
        iommu smmu: arm-smmu
        device venus: "qcom,sdm845-venus" { iommu smmu sid 0x10a0 mask 0x8 }
        """,
    ),
    _error(
        "E110",
        "Malformed PCI address or pattern (device past `1f`).",
        "A PCI address is `dddd:bb:dd.f` in hexadecimal with the domain optional, a device "
        "number `00`..`1f` (a bus has 32 devices) and a function `0`..`7`. A `pci` selector "
        "pattern has the same shape, with `*` for any character and every field at its full "
        "width: `0000:03:**.*`, not `0000:03:*.*`. Correct the address or the pattern.",
        """
        device nic: "pci8086,1533" { pci 0000:04:20.0 }
        """,
    ),
    _error(
        "E111",
        "A PCI address used by two devices or bridges.",
        "Each PCI function, device or bridge, has its own address; two statements with one "
        "address would be two functions in one slot of the hierarchy, which the grouping of "
        "`pci_device_group` cannot tell apart. One of them is most likely a typo, or a "
        "function described twice.",
        """
        device nic0: "pci8086,1533" { pci 0000:04:00.0 }
        device nic1: "pci8086,1533" { pci 0000:04:00.0 }
        """,
    ),
    _error(
        "E112",
        "A context index out of range (past `contexts`, or a qcom-iommu `context 0`), or a "
        "context range that runs backwards; a qcom-iommu client's context that is "
        "`reserved`.",
        "Context indices (in an IOMMU's `reserved` and `secure` sets, a `context IOMMU.N "
        "reserved for` rule and a qcom-iommu client's `context N`) must name contexts the "
        "IOMMU has: 0 .. `contexts`-1, or 1 .. `contexts` on a qcom-iommu, whose "
        "`qcom_iommu_of_xlate` counts from 1. A range, also in `allows contexts`, must not "
        "run backwards (`3..1`). A "
        "qcom-iommu client cannot use a `reserved` context: a bank exists only where the "
        "IOMMU node has an iommu-ctx child (`qcom_iommu_ctx_probe`), so "
        "`qcom_iommu_init_domain` would find none. Correct the index or the IOMMU's "
        "`contexts`.",
        """
        iommu smmu: arm-smmu { contexts 8 }
        device gpu: "vendor,gpu" { iommu smmu sid 0x1 }
        rule context smmu.8 reserved for gpu
        """,
    ),
    _error(
        "E113",
        "A `kernel` version without a minor number or outside 2.x..9.x.",
        "The `platform` `kernel` decides which era of kernel behaviour applies (default "
        "domains at probe time from 5.8, DMA-FQ from 5.15, identity wins from 6.7, ...), so "
        "it must be a Linux version `2.6` .. `9.x` with a minor number: `6.8`, not `6`. "
        "Write the version the board boots.",
        """
        platform { kernel 6 }
        """,
    ),
    _error(
        "E114",
        "A number out of range: `contexts` outside 1..the kind's maximum (or any `contexts` "
        "on a one-table `sun50i-iommu`, `mtk-iommu-v1`, `omap-iommu`, `s390-iommu`, "
        "`sprd-iommu`, `fsl-pamu` or `spapr-tce`, or on a `riscv-iommu`, whose PSCIDs are "
        "system-wide), `cells` above 4, `stream-bits` outside 1..32, `dma-mask` outside "
        "12..64, a `pci-domain` above 0xffff, an IOVA region, larb or port above 31, an empty "
        "RAM range.",
        "A property's number is outside what the hardware or the kernel allows: `contexts` "
        "from 1 to the kind's maximum (the kinds table), `cells` 0..4, `stream-bits` 1..32, "
        "`dma-mask` 12..64 bits, a `map` entry's `pci-domain` 0..0xffff, an mtk-iommu "
        "`region`'s number, larbs and ports 0..31, and a RAM range of positive size. Some "
        "kinds have no contexts to count at all, and `contexts` on them is refused with the "
        "reason: one table register that each attach repoints (sun50i-iommu, sprd-iommu), "
        "one page table for every master (mtk-iommu-v1), one table per MMU, zPCI function or "
        "PE (omap-iommu, s390-iommu, spapr-tce), one PAACE per LIODN (fsl-pamu), or PSCIDs "
        "from one system-wide pool (riscv-iommu). The label gives the range.",
        """
        device gpu: "vendor,gpu" { dma-mask 8 }
        """,
    ),
    _error(
        "E115",
        "A hardware fact or `include` inside a `when` block: only rules, expectations and "
        "driver domains may depend on a condition.",
        "`when` makes policy depend on the kernel, architecture, command line or Kconfig, but "
        "hardware does not change with the kernel: `platform`, `iommu`, `device` and `bridge` "
        "statements hold on every boot, and an `include` is resolved before any condition "
        "can be evaluated. Only `rule`, `expect`, driver-built `domain` statements and "
        "nested `when` blocks may be inside. Move the statement out of the block.",
        """
        when kernel >= 5.8 {
            device late: "vendor,late"
        }
        """,
    ),
    _error(
        "E116",
        "A bad expectation (unknown attribute, a value that is not a DMA-ops kind or domain "
        "type, `<`/`>` with a non-number).",
        "An `expect` must ask for an attribute its subject has (the attribute tables in "
        "docs/language.md, `ATTRIBUTES` in dsl/model.py), compare `dma_ops` with a kind of "
        "DMA ops (`iommu-dma`, `dma-direct`, `dma-direct+swiotlb`, `arm_iommu`, "
        "`s390_pci_dma`, `dma_iommu`, `none`), compare a domain type attribute with a domain "
        "type or `none`, and use `<`, `<=`, `>`, `>=` with numbers only. The help suggests "
        "the closest attribute or value; `iommu_dma` and `dma_iommu` are the usual mix-up "
        "(the IOMMU DMA layer is `iommu-dma`, POWER's TCE ops are `dma_iommu`).",
        """
        device gpu: "vendor,gpu"
        expect gpu.dma_ops == iommu_dma
        """,
    ),
    _error(
        "E117",
        "A swgroup or stream ID listed in two SoC groups.",
        "A Tegra memory controller's SoC groups (`group NAME: MEMBER, ...`) each list the "
        "swgroups their clients are in, and the kernel puts a client in the first group that "
        "lists its swgroup (`tegra_smmu_find_group`), so a second listing would never take "
        "effect. List each member once. Groups with a `when` condition may share members, "
        "as the kernel's tables changed between releases; where two apply, the first listed "
        "wins.",
        """
        iommu mc: tegra-smmu { group display: dc, dcb; group video: dc }
        """,
    ),
    _error(
        "E118",
        "`untrusted` on a device without a `pci` address.",
        "Only PCI devices can be untrusted: the kernel marks a PCI device below an "
        "external-facing port (Thunderbolt, USB4) as untrusted "
        "(drivers/pci/probe.c: `set_pcie_untrusted`), and nothing marks a platform device. "
        "Give the device its `pci` address, or drop `untrusted`.",
        """
        device gpu: "vendor,gpu" { untrusted }
        """,
    ),
    _error(
        "E119",
        "A bridge `upstream` chain that loops.",
        "Following `upstream` from this bridge comes back to it, so the chain never reaches "
        "a root port. The chain is the PCI hierarchy (`pci_device_group` walks it towards the "
        "root, checking ACS), which is a tree. Each bridge on the loop is reported. Correct "
        "the `upstream` that points down the tree.",
        """
        bridge a: switch-port { pci 0000:01:00.0; upstream b }
        bridge b: switch-port { pci 0000:02:00.0; upstream a }
        """,
    ),
    _error(
        "E120",
        "A `domain` the driver cannot build or attach as written: a type other than "
        "`unmanaged`, `blocked` or `arm-mapping`; an `arm-mapping` without `arch arm` and "
        "`ARM_DMA_USE_IOMMU`; a type its IOMMU's driver cannot allocate (a blocked one on "
        "`fsl-pamu` before 5.19; on `spapr-tce` an unmanaged one, or any before 6.4); any "
        "domain on an `mtk-iommu-v1`; a device it attaches that is not behind its IOMMU, or "
        "named twice; IOMMUs of two kinds, or of a kind whose domains cannot span instances; "
        "or (`default of`) a device behind no IOMMU, that device attached to itself, or a "
        "default domain another statement named.",
        "A `domain` statement describes a domain a driver builds and attaches itself, so it "
        "must be one the driver can build and attach. Default domains (`identity`, `dma`, "
        "`dma-fq`, `platform`) are the kernel's choice; steer them with rules. An "
        "`arm-mapping` is an arm32 `dma_iommu_mapping`, which exists only on `arch arm` with "
        "`ARM_DMA_USE_IOMMU`. Some drivers cannot allocate a type: `fsl_pamu_domain_alloc` "
        "makes unmanaged domains only (the core's blocked stand-in came in 5.19), and POWER "
        "has no `iommu_ops` before 6.4 and no paging domain after. The mtk-iommu-v1 driver "
        "programs only its own arm32 mapping: `mtk_iommu_v1_attach_device` ignores any other "
        "domain. A domain belongs to one driver (`iommu_attach_group` refuses another "
        "driver's domain, -EINVAL), and only some drivers let it span instances (the table "
        "under `domain` in docs/language.md; `arm_smmu_attach_dev`, for one, refuses). A "
        "device it attaches must be behind one of its IOMMUs. A `default of DEVICE` domain "
        "is DEVICE's default domain, so DEVICE needs an IOMMU, is not attached to it again, "
        "and the default domain of one group is named once. The message says which case "
        "this is.",
        """
        iommu smmu: arm-smmu
        device gpu: "vendor,gpu" { iommu smmu sid 0x1 }
        domain gpu_dom: identity on smmu { attach gpu }
        """,
    ),
    _error(
        "E121",
        "A file or included file that does not exist.",
        "A file given on the command line, or named by an `include`, is not there. An "
        "include is relative to the including file's directory (standard input's: the "
        "current directory), `.iommu` may be left off, and `std/...` names a stdlib pack "
        "(`iommu-rules packs` lists them). The help suggests the closest file or pack.",
        """
        include "common"
        """,
    ),
    _error(
        "E122",
        "An include cycle (the chain is shown).",
        "A file includes itself, directly or through other files. Each file is loaded once "
        "anyway, so a cycle always means an include that should not be there; the chain of "
        "includes that closes the loop is shown. Remove one of them. (The example includes "
        "itself when saved as example.iommu.)",
        """
        include "example"
        """,
    ),
    _error(
        "E123",
        "A file that cannot be read: a directory, not a regular file, or an OS error.",
        "The path exists but is a directory, a device or a pipe rather than a regular file, "
        "or reading it failed (permissions, I/O); the message gives the reason. Check the "
        "path. An `include` names one file, and `iommu-rules check` takes files, not "
        "directories (`iommu-rules test` expands a directory to its `.iommu` files).",
        """
        $ mkdir common.iommu
        $ printf 'include "common"\\n' > example.iommu
        $ iommu-rules check example.iommu
        """,
        _SHELL,
    ),
    _error(
        "E124",
        "A file that is not valid UTF-8.",
        "Rule files are UTF-8 text, and this file has a byte sequence that is not UTF-8, for "
        "example a Latin-1 `é` in a comment or a string. The line is quoted as well as it can "
        "be and the first bad byte is named. Convert the file (`iconv -f latin1 -t utf-8`).",
        r"""
        $ printf '# caf\xe9 board\n' > example.iommu
        $ iommu-rules check example.iommu
        """,
        _SHELL,
    ),
    _error(
        "E125",
        "A file larger than 16 MiB.",
        "Rule files are read whole and parsed in memory, so a file over 16 MiB is refused "
        "before it is read: no hand-written board comes near it, and a generated one can be "
        "split into several files joined with `include`.",
        """
        $ truncate -s 17M example.iommu
        $ iommu-rules check example.iommu
        """,
        _SHELL,
    ),
    _error(
        "E126",
        "Overlapping `ram` ranges.",
        "`ram BASE size SIZE` ranges describe the machine's memory map, which has each "
        "address once; the top of RAM they give decides whether devices with narrow DMA "
        "masks need swiotlb bounce buffers. Remember that `ram N` alone is a size at base 0. "
        "Correct the bases or sizes so the ranges do not overlap.",
        """
        platform { ram 0x80000000 size 2G; ram 0xc0000000 size 1G }
        """,
    ),
    _error(
        "E127",
        "Two IOMMUs' `map` entries cover the same requester IDs in the same PCI domain, so "
        "which IOMMU a function reaches would depend on declaration order; give each host's "
        "entries its `pci-domain`.",
        "Each PCI host bridge has its own `iommu-map`, which `of_map_id` uses to turn a "
        "function's requester ID into its IOMMU and stream ID. Two hosts may well use the "
        "same requester IDs, but then they are in different PCI domains; `map` entries "
        "without `pci-domain` apply to every domain, so two IOMMUs would claim the same "
        "functions. Give each host's entries `pci-domain N`, the host's `linux,pci-domain`.",
        """
        iommu smmu0: arm-smmu-v3 { map rid 0x0 sid 0x0 length 0x10000 }
        iommu smmu1: arm-smmu-v3 { map rid 0x0 sid 0x0 length 0x10000 }
        """,
    ),
    _error(
        "E128",
        "A `map` entry whose `rid` base has bits that `map-mask` clears; the kernel refuses "
        'such a map (`of_map_id`: "iommu-map-mask ignores id-base").',
        "`of_map_id` ANDs a requester ID with `iommu-map-mask` before it looks the ID up, "
        "so an entry whose `rid` base has bits outside the mask could never match, and the "
        'kernel refuses the map ("Invalid iommu-map translation - iommu-map-mask ignores '
        'id-base", drivers/of/base.c). Correct the base, or widen the mask.',
        """
        iommu smmu: arm-smmu-v3 { map rid 0x100 sid 0x0 length 0x100 map-mask 0xff }
        """,
    ),
    _error(
        "E129",
        "A `region` line on an IOMMU that is not an `mtk-iommu`, or one that gives a region "
        "the same larb twice.",
        "IOVA regions chosen by larb and port are the MediaTek M4U's "
        "(`mtk_iommu_get_iova_region_id`); no other kind has them. A region has one port "
        "mask per larb, so each larb is given once per region: put its ports on one line.",
        """
        iommu smmu: arm-smmu { region 0 larb 0 }
        """,
    ),
    _error(
        "E130",
        "An IOMMU whose driver the platform's architecture does not build (Kconfig: "
        "`mtk-iommu-v1`, `msm-iommu` and `omap-iommu` need `arch arm`, `riscv-iommu` "
        "`riscv64`, `s390-iommu` `s390`, `fsl-pamu` and `spapr-tce` `powerpc`); without "
        "`arch`, arm64 is assumed.",
        "Some IOMMU drivers are built for one architecture only, by their Kconfig "
        "`depends on` (`MTK_IOMMU_V1 depends on ARM`, `FSL_PAMU depends on PPC_E500MC`, "
        "...), so a board of another architecture cannot have that IOMMU; the label quotes "
        "the Kconfig line. A board without `platform { arch ... }` is taken as arm64. Set the "
        "platform's `arch`, or check the IOMMU kind.",
        """
        platform { arch arm64 }
        iommu m4u: mtk-iommu-v1
        """,
    ),
    _error(
        "E131",
        "A client the IOMMU's driver cannot take: a device without `pci` behind an "
        "`s390-iommu` (`s390_iommu_probe_device`) or a `spapr-tce` "
        "(`spapr_tce_iommu_probe_device`), a PCI function behind two `spapr-tce` PHBs, a "
        "second device on an `msm-iommu` (`insert_iommu_master` keeps one master).",
        "The IOMMU's driver refuses this client when it probes. `s390_iommu_probe_device` "
        "takes zPCI functions only (-ENODEV for anything else). On POWER only PCI functions "
        "are put in PEs (`iommu_add_device`; `spapr_tce_iommu_probe_device` refuses any "
        "other device from 6.4), and a function is below one host bridge, so it has one "
        "PHB. An msm-iommu keeps one master (`insert_iommu_master`), and the driver finds a "
        "device only as the first master of an IOMMU (`find_iommu_for_dev`). Give the device "
        "its `pci` address, drop the second link, or give the device its own IOMMU node.",
        """
        platform { arch s390 }
        iommu zpci: s390-iommu
        device ism: "ibm,ism" { iommu zpci }
        """,
    ),
    _error(
        "E132",
        "An `msm-iommu` without `contexts`, its node's `qcom,ncb`, which `msm_iommu_probe` "
        "requires.",
        "`msm_iommu_probe` reads the number of context banks from the node's `qcom,ncb` and "
        'fails without it ("could not get ncb"), so the IOMMU would not exist. Write '
        "`contexts N` with the node's `qcom,ncb`, or `disabled` when the node has none.",
        """
        platform { arch arm }
        iommu mdp_iommu: msm-iommu
        """,
    ),
    _error(
        "E133",
        "A second `fsl-pamu`: the kernel registers one PAMU IOMMU for all PAMU blocks "
        "(`pamu_domain_init`), which share one PAACT.",
        "A QorIQ SoC has several PAMU blocks, but `pamu_domain_init` registers one "
        "`iommu_device` for them all, and every PAMU shares one PAACT indexed by LIODN. "
        "Declare one `fsl-pamu` and link every client to it by its LIODNs.",
        """
        platform { arch powerpc }
        iommu pamu0: fsl-pamu
        iommu pamu1: fsl-pamu
        """,
    ),
    _error(
        "E134",
        'An `include "std/..."` whose path leaves the stdlib (`std/../x`): `std/` names a '
        "shipped pack, and only the shipped packs are trusted as packs.",
        "A path starting with `std/` names a pack shipped with iommu-rules. A pack is trusted "
        "more than a board file (its rules may name tags no board has, and an unused pack "
        "rule is no W201), so the loader decides that by where a file is, the shipped "
        "stdlib, and refuses a `std/` path that climbs out of it. Include your own files by a "
        "path relative to the including file; `iommu-rules packs` lists the shipped packs.",
        """
        include "std/../../../etc/rules"
        """,
    ),
    _error(
        "E135",
        "A rule file that is a symbolic link to a file not named `*.iommu`, and that does not "
        "parse.",
        "Links are followed, as compilers follow them. But a checked-out repository may hold "
        "a link named like a rule file that points at any file of the machine checking it "
        "(`/etc/shadow`, a key, `/proc/self/environ`), and a CI log is often public: so the "
        "text of a linked file whose real name does not end in `.iommu` is never quoted. Its "
        "syntax errors become this one error at the first of them, naming the link and where "
        "it leads. A file given by its own name, or a link to a `*.iommu` file, is quoted as "
        "usual.",
        """
        $ ln -s /etc/passwd example.iommu
        $ iommu-rules check example.iommu
        """,
        _SHELL,
    ),
    # -------------------------------------------------------- E2xx: groups, default domains
    _error(
        "E201",
        "A stream whose SMR partly overlaps another master's on an arm-smmu: the kernel "
        "fails the probe (`arm_smmu_find_sme`, -EINVAL).",
        "An arm-smmu matches streams with stream match registers (an ID and a mask). Masters "
        "whose (SID, mask) pairs are equal or one contains the other share a stream map "
        "entry, and so a group; but a pair that only partly overlaps another could match "
        "streams of both, and `arm_smmu_find_sme` returns -EINVAL: the device's IOMMU probe "
        "fails. Give both devices the same SID and mask, or ones that do not overlap.",
        """
        include "std/linux"
        platform { arch arm64; kernel 6.8 }
        iommu smmu: arm-smmu { cells 2 }
        device a: "vendor,a" { iommu smmu sid 0x10 mask 0x3 }
        device b: "vendor,b" { iommu smmu sid 0x12 mask 0xc }
        """,
    ),
    _error(
        "E202",
        "A stream that finds every stream match register of an arm-smmu taken (`smrs`): the "
        "kernel fails the probe (`arm_smmu_find_sme`, -ENOSPC).",
        "An arm-smmu has a fixed number of stream match registers (IDR0.NUMSMRG, the boot "
        "log's 'stream matching with N register groups'). Each master's stream takes one "
        "unless it lies within an SMR already in use; when none is free "
        "`arm_smmu_find_sme` returns -ENOSPC, `arm_smmu_master_alloc_smes` frees the ones "
        "the master took, and its IOMMU probe fails: no group, DMA without the IOMMU. "
        "Masters that can share an SMR (equal SID/mask, or one within another) save "
        "registers.",
        """
        include "std/linux"
        platform { arch arm64; kernel 6.8 }
        iommu smmu: arm-smmu { smrs 2 }
        device a: "vendor,a" { iommu smmu sid 0x10 }
        device b: "vendor,b" { iommu smmu sid 0x11 }
        device c: "vendor,c" { iommu smmu sid 0x12 }
        """,
    ),
    _error(
        "E210",
        "From 6.7 the kernel refuses to probe a group (`iommu_get_default_domain_type`): an "
        "untrusted device whose driver wants another type, or whose kernel has no "
        "`IOMMU_DMA`, an untrusted device under `ARM_DMA_USE_IOMMU`, or a driver that wants "
        "a DMA domain without `IOMMU_DMA`; in 6.7 only, any group of a driver with a static "
        "`platform` default domain (`iommu_group_alloc_default_domain`: -EINVAL).",
        "From 6.7 (59ddce4418da) `iommu_get_default_domain_type` refuses a group it cannot "
        "give a safe default domain: an untrusted device needs a strict DMA domain, so a "
        'driver that insists on another type fails the probe ("Device is not trusted, but '
        'driver is overriding group %d to %s, refusing to probe."), as does a kernel '
        "without `IOMMU_DMA`, where the core asks for identity, or an arm32 kernel with "
        "`ARM_DMA_USE_IOMMU`; a driver that wants a DMA domain without `IOMMU_DMA` is "
        "refused too. In 6.7 the core also asked drivers with a static `platform` default "
        "domain (fsl-pamu, spapr-tce) for another type, which they refuse "
        "(`iommu_group_alloc_default_domain`: -EINVAL); 83b3836bf83f fixed that in 6.8. The "
        "device is unwound from its IOMMU and left without a group. Check the rules that "
        "make the device untrusted or the driver's wish, or model another kernel.",
        """
        include "std/linux"
        platform { arch x86_64; kernel 6.8 }
        iommu vtd: intel-vtd
        device tbt: "pci8086,15eb" { pci 0000:05:00.0; iommu vtd; untrusted }
        rule tbt def-domain-type identity
        """,
    ),
    _error(
        "E211",
        "Two of the user's rules want different default domains for one group.",
        "The devices of one IOMMU group share one default domain, so hard rules (`requires`, "
        "`excludes`, `excludes implicit`) on the devices of one group must agree. Here two "
        "of the board's rules want different types for the same group (or one excludes what "
        "another requires); both are shown. Make them agree, or check why the devices share "
        "a group (a shared stream, an alias, a bridge without ACS).",
        """
        include "std/linux"
        platform { arch arm64; kernel 6.8 }
        iommu smmu: arm-smmu
        device a: "vendor,a" { iommu smmu sid 0x1 }
        device b: "vendor,b" { iommu smmu sid 0x1 }
        rule a requires identity
        rule b requires dma
        """,
    ),
    _error(
        "E212",
        "A rule requires a domain type the IOMMU cannot allocate (or `dma-fq` where the "
        "driver drops the flush queue).",
        "A rule requires a default domain type the group's IOMMU cannot provide: the "
        "IOMMU's `domains` or a stdlib pack says its driver cannot allocate it (tegra-smmu "
        "has no identity domain before 6.7, `quirk no-identity`, ...). For `dma-fq`, from 6.5 "
        "a domain keeps its flush queue only where the driver reports "
        "`IOMMU_CAP_DEFERRED_FLUSH` (or with `quirk no-deferred-flush`, not at all): "
        "`iommu_dma_init_domain` turns it into strict `dma` silently. Drop the rule, require "
        "a type the IOMMU has, or correct its `domains`.",
        """
        include "std/linux"
        platform { arch arm64; kernel 6.8 }
        iommu smmu: arm-smmu { domains dma, unmanaged }
        device a: "vendor,a" { iommu smmu sid 0x1 }
        rule a requires identity
        """,
    ),
    _error(
        "E213",
        "A rule contradicts the kernel's hard choice (a driver's `def_domain_type` or "
        "static default domain, an untrusted device), `excludes implicit` included; the "
        "message names both.",
        "Some default domain types are not the board's to choose: what an IOMMU driver's "
        "`def_domain_type` returns for a device (`def-domain-type` rules in the SoC packs), a "
        "driver's static `platform` default domain, and the strict DMA domain an untrusted "
        "device gets are set up by the kernel whatever else is asked "
        "(`iommu_get_default_domain_type`). A rule that wants another type, `excludes "
        "implicit` included, cannot hold; the kernel's choice is shown with its source. Drop "
        "the rule, or model the driver that does what the rule wants.",
        """
        include "std/linux"
        platform { arch arm64; kernel 6.8 }
        iommu smmu: arm-smmu
        device a: "vendor,a" { iommu smmu sid 0x1 }
        rule a def-domain-type identity
        rule a excludes identity
        """,
    ),
    # -------------------------------------------------------- E3xx: contexts, driver domains
    _error(
        "E301",
        "A domain gets no context: the IOMMU's contexts are exhausted (-ENOSPC; -ENODEV on "
        "an `msm-iommu`), or the GART's single aperture is taken (-EBUSY, -EINVAL from "
        "6.2).",
        "Translating domains take a context (a context bank, an ASID, a domain ID) on their "
        "IOMMU in attach order, and this one found none free: all are taken, reserved, secure "
        "or outside what `allows contexts` permits, or, on the Tegra20 GART, the one "
        "aperture already belongs to another domain. The kernel's attach fails; for a "
        "default domain it WARNs and unwinds the device from the IOMMU "
        "(`IOMMU_SET_DOMAIN_MUST_SUCCEED`), and for an implicit arm32 mapping the device "
        "keeps dma-direct. Free contexts with `excludes implicit` or `requires identity` "
        "rules, or check the reservations and `contexts`.",
        """
        include "std/linux"
        platform { arch arm64; kernel 6.8 }
        iommu smmu: arm-smmu { contexts 4 }
        device a: "vendor,a" { iommu smmu sid 0x1 }
        device b: "vendor,b" { iommu smmu sid 0x2 }
        rule all allows contexts 0
        """,
    ),
    _error(
        "E302",
        "A driver domain cannot attach while a device keeps its implicit arm32 mapping "
        "(-EBUSY), or is attached with `iommu_attach_device` (or "
        "`arm_iommu_attach_device`) to a group of several devices (-EINVAL), or is an "
        "`omap-iommu` domain that already has its one client device (-EBUSY before 6.2, "
        "-EINVAL after).",
        "The driver's attach of its own domain fails. On arm32 with `ARM_DMA_USE_IOMMU` a "
        "device starts in an implicit per-device mapping, and from 5.19 (1ea2a07a532b) "
        "`__iommu_attach_group` refuses a new domain while the group is in a domain other "
        "than its default one (-EBUSY); before 5.19 only when the group had a default domain. "
        "`iommu_attach_device` and `arm_iommu_attach_device` take a group of one device only "
        "(-EINVAL), and an OMAP IOMMU domain takes one client device "
        "(`omap_iommu_attach_dev`). Exclude the implicit mapping (`rule DEVICE excludes "
        "implicit`) or let the driver detach it (`driver detaches-implicit`), or give each "
        "device its own domain.",
        """
        include "std/linux"
        platform { arch arm; kernel 5.19; config ARM_DMA_USE_IOMMU }
        iommu mc: tegra-smmu { contexts 4 }
        device gr3d: "nvidia,tegra30-gr3d" { iommu mc swgroup nv }
        domain drm: unmanaged on mc { attach gr3d }
        """,
    ),
    _error(
        "E303",
        "A `default of DEVICE` domain whose device has no default domain to share (none "
        "chosen, or it sits in an arm32 implicit mapping).",
        "A `default of DEVICE` domain is the one a driver gets from "
        "`iommu_get_domain_for_dev(DEVICE)` and attaches to its other devices, as Exynos DRM "
        "does (exynos_drm_dma.c). Here DEVICE has no default domain to give: it is in no "
        "group, its group has no default domain (the message says why), or it is in another "
        "domain, such as an arm32 implicit mapping, which `iommu_get_domain_for_dev` returns "
        "instead. Check the default-domain rules for DEVICE, or describe what the driver "
        "builds instead (`unmanaged on IOMMU`, or `arm-mapping on IOMMU` on arm32).",
        """
        include "std/linux"
        platform { arch arm64; kernel 6.8 }
        iommu smmu: arm-smmu { quirk no-identity }
        device a: "vendor,a" { iommu smmu sid 0x1 }
        device b: "vendor,b" { iommu smmu sid 0x2 }
        rule a excludes implicit
        domain shared: default of a { attach b }
        """,
    ),
    # -------------------------------------------------------- E4xx: expectations
    _error(
        "E401",
        "An `expect` does not hold; the help says why the actual value is what it is.",
        "The resolved board does not have the value the expectation states. The message "
        "gives the actual value, and the help the first step of its derivation with the "
        "kernel source it mirrors; `iommu-rules why FILE SUBJECT.ATTRIBUTE` shows the whole "
        "derivation. Either the board or its rules are not what you meant, or the "
        "expectation is out of date. `iommu-rules test` runs the expectations and reports "
        "each failure this way.",
        """
        include "std/linux"
        platform { arch arm64; kernel 6.8 }
        device sdhci: "nvidia,tegra30-sdhci"
        expect sdhci.dma_ops == iommu-dma
        """,
    ),
    # -------------------------------------------------------- E5xx: what-if
    _error(
        "E501",
        "A what-if change of an unknown form: not `set`, `add` or `drop`, a `set` without a "
        "platform fact or IOMMU, a misspelt platform fact, or a `drop` without "
        "`rule|device|iommu|bridge|domain|include NAME` (a statement after `add` or `set` "
        "that does not parse reports the parser's code).",
        "A what-if change (`iommu-rules whatif --set/--add/--drop-...`, the REPL's `try`, "
        "`dot --whatif`) is `set FACT VALUE` (a platform fact such as `kernel 6.8`, or `IOMMU "
        "PROPERTY`), `add STATEMENT` or `drop rule|device|iommu|bridge|domain|include NAME`. "
        "This one is none of those, or names a platform fact that does not exist (the help "
        "suggests the closest). The text after `add` and `set` is parsed as rule-file "
        "statements, so a syntax error there is reported with the parser's code, at its "
        "place in the change.",
        """
        set kernal 6.8
        """,
        _CHANGE,
    ),
    _error(
        "E502",
        "A what-if change naming something the board does not have.",
        "A `set IOMMU ...` change names an IOMMU, or a `drop` change a rule, device, IOMMU, "
        "bridge, domain or include, that the board does not have, so the change would do "
        "nothing. The help suggests the closest name. Unnamed rules are dropped by their "
        "`FILE:LINE`.",
        """
        drop device gpu
        """,
        _CHANGE,
    ),
    _error(
        "E503",
        "A `move DEVICE to BRIDGE` change into a port whose slot already holds another card.",
        "A PCI Express link is point to point: a root port or a switch's downstream port has "
        "one slot, device 00 on its secondary bus. A what-if that moves a card below a port "
        "whose slot holds another card would give two cards one address, so it is refused; "
        "move or drop the card that is there first (`--drop-device NAME`, or `drop device "
        "NAME` before the move in the REPL).",
        """
        $ iommu-rules whatif examples/x86-desktop.iommu --move 'dgpu to pch_rp9'
        """,
        _SHELL,
    ),
    # -------------------------------------------------------- E6xx: the REPL
    _error(
        "E601",
        "A REPL command that does not exist; the help suggests the closest.",
        "A line typed at the `iommu-rules repl` prompt starts with a word that is neither a "
        "REPL command nor a statement (statements typed at the prompt join the session). The "
        "help suggests the closest command; `help` lists them all.",
        """
        shwo gpu
        """,
        _REPL,
    ),
    # -------------------------------------------------------- E8xx: importers
    _error(
        "E801",
        "`import listing`: nothing to import in any input (no IOMMU group, PCI function, "
        "default domain type, kernel version or IOMMU line), or a bug: the importer failed, "
        "or the rule file it generated does not parse or does not check.",
        "`iommu-rules import listing` found nothing it could turn into a rule file: no "
        "`IOMMU Group N` listing, no `lspci -nn` or `lspci -tv` line, and no kernel-log line "
        "about IOMMU groups, the default domain type, the kernel version or an IOMMU. Give "
        "the output of the IOMMU-group script, `lspci -nn`, `lspci -tv` or "
        "`dmesg`/`journalctl -k`. The same code reports a bug in the importer (an exception, "
        "or generated text that does not parse): please report it with the input.",
        """
        [    1.234567] usb 1-1: new high-speed USB device number 2 using xhci_hcd
        [    1.456789] usb 1-1: New USB device found, idVendor=8087, idProduct=0024
        """,
        _LISTING,
    ),
    _error(
        "E802",
        "`snapshot`: no /sys tree under the given root.",
        "`iommu-rules snapshot` reads /sys/kernel/iommu_groups and /sys/bus/pci/devices "
        "under its root (`/`, or `--root DIR`), and neither is there. Run it on the Linux "
        "machine itself, or give `--root` a copy of that machine's tree.",
        """
        $ mkdir copied-root
        $ iommu-rules snapshot --root copied-root
        """,
        _SHELL,
    ),
    _error(
        "E803",
        "`snapshot`: the generated file does not parse or does not check (a bug: please "
        "report it).",
        "The rule file `iommu-rules snapshot` generated from the /sys tree does not parse. "
        "That is a bug in the snapshot code, not a problem with the machine; no input is "
        "known to cause it. Please report it with the tree (or the command's output and "
        "`ls -R /sys/kernel/iommu_groups`).",
        """
        $ iommu-rules snapshot
        """,
        _SHELL,
    ),
    _error(
        "E811",
        "`import dts`: the file cannot be read (or is not UTF-8 text).",
        "`iommu-rules import dts` could not read the device tree source: it does not exist, "
        "is not readable, or is not UTF-8 text. Check the path. A compiled blob must end in "
        "`.dtb` to be decoded as one.",
        """
        $ iommu-rules import dts no-such-board.dts
        """,
        _SHELL,
    ),
    _error(
        "E812",
        "`import dts`: a .dtb that does not decode.",
        "A file ending in `.dtb` is decoded as a flattened device tree blob, and this one is "
        "not a valid blob (truncated, or not a .dtb at all). Check the file, or import the "
        "board's .dts source instead.",
        """
        $ printf 'not a blob\\n' > board.dtb
        $ iommu-rules import dts board.dtb
        """,
        _SHELL,
    ),
    _error(
        "E813",
        "`import dts`: `#include` without `cpp`, or `cpp` failed (add `-I` directories).",
        "A .dts that uses `#include` is run through the C preprocessor first. Either "
        "`cpp` is not installed, or it failed: most often an "
        "included .dtsi or header is not found: the error names it and the `#include` that "
        "wanted it. Install `cpp`, and give the directories the includes are in with `-I`: "
        "for a kernel tree `-I include -I scripts/dtc/include-prefixes` (which has `arm/`, "
        "`arm64/` and `dt-bindings/` for includes across arches), for the devicetree-rebasing "
        "tree `-I include -I src`.",
        """
        $ printf '/dts-v1/;\\n#include "board-common.dtsi"\\n' > board.dts
        $ iommu-rules import dts board.dts
        """,
        _SHELL,
    ),
    _error(
        "E814",
        "`import dts`: the devicetree package is missing.",
        "`iommu-rules import dts` parses device trees with the `devicetree` Python package "
        "(its `dtlib`), a dependency of iommu-rules that is not installed in this "
        "environment. Reinstall iommu-rules, or install the package.",
        """
        $ printf '/dts-v1/;\\n/ { };\\n' > board.dts
        $ python3 -m pip uninstall -y devicetree
        $ iommu-rules import dts board.dts
        """,
        _SHELL,
    ),
    _error(
        "E815",
        "`import dts`: a device tree syntax error.",
        "The device tree source does not parse; the message gives `dtlib`'s reason with the "
        "file, line and column. Check that the file is a complete .dts (starting with "
        "`/dts-v1/;`), and that it was preprocessed if it needs it.",
        """
        /dts-v1/;
        / {
            gpu@2000 {
        """,
        _DTS,
    ),
    _error(
        "E816",
        "`import dts`: the generated file does not parse or does not check (a bug: please "
        "report it).",
        "The rule file `iommu-rules import dts` generated from the device tree does not "
        "parse. That is a bug in the importer, not in the device tree; no input is known to "
        "cause it. Please report it with the device tree.",
        """
        $ iommu-rules import dts board.dts
        """,
        _SHELL,
    ),
    # -------------------------------------------------------- W2xx: lints
    _warning(
        "W201",
        "A rule that matches no device.",
        "The rule's selector selects no device of the board, so the rule does nothing: a "
        "compatible pattern that matches no compatible, an `on` or `kind` no device is "
        "behind, a combination that excludes everything. Rules in stdlib packs are exempt. "
        "Check the selector's names, tags and patterns.",
        """
        include "std/linux"
        platform { arch arm64; kernel 6.8 }
        device gpu: "vendor,gpu"
        rule compatible "nvidia,*" excludes implicit
        """,
    ),
    _warning(
        "W202",
        "An IOMMU with 90 % or more of its contexts in use.",
        "The board uses nearly all of this IOMMU's contexts (context banks, ASIDs): one more "
        "translating domain, from another device, a driver or a VFIO user, and the kernel's "
        "attach fails with the driver's errno (-ENOSPC for most). Contexts fixed by the "
        "device tree (qcom-iommu) are not counted. Free contexts with `excludes implicit` or "
        "`requires identity` rules where the devices do not need translation.",
        """
        include "std/linux"
        platform { arch arm64; kernel 6.8 }
        iommu smmu: arm-smmu { contexts 1 }
        device a: "vendor,a" { iommu smmu sid 0x1 }
        """,
    ),
    _warning(
        "W203",
        "A device in a driver-built domain whose DMA API calls still go through iommu-dma "
        "(they map into the default domain, which the hardware no longer uses: "
        "`iommu_get_dma_domain`).",
        "The device's driver attached its own domain, but the device's DMA ops are still "
        "iommu-dma, and `iommu_get_dma_domain()` returns the group's default domain: buffers "
        "mapped with the DMA API go into a page table the IOMMU no longer walks for the "
        "device, not into the driver's domain. Drivers that build their own domain usually "
        "manage its IOVAs themselves and make no DMA API calls for the device: say so with "
        "`driver no-dma-api`.",
        """
        include "std/linux"
        platform { arch arm64; kernel 6.8 }
        iommu smmu: arm-smmu
        device gpu: "vendor,gpu" { iommu smmu sid 0x1; driver own-domain }
        domain gpu_vm: unmanaged on smmu { attach gpu }
        """,
    ),
    _warning(
        "W204",
        "Trusted and untrusted devices in one group.",
        "An untrusted (external-facing) PCI device shares an IOMMU group with a trusted one, "
        "because they cannot be isolated (a bridge without ACS, a PCIe-to-PCI bridge, an "
        "alias). The whole group gets the untrusted device's treatment (a strict DMA domain, "
        "or a refused probe where the driver insists on another type), and the external "
        "device shares its isolation with an internal one. Check the topology and ACS.",
        """
        include "std/linux"
        platform { arch arm64; kernel 6.8 }
        iommu vtd: intel-vtd
        bridge rp0: root-port { pci 0000:00:1c.0 }
        bridge legacy: pci-bridge { pci 0000:01:00.0; upstream rp0 }
        device nic: "pci8086,1533" { pci 0000:02:00.0; upstream legacy; iommu vtd }
        device tbt: "pci8086,15eb" {
            pci 0000:02:01.0
            upstream legacy
            iommu vtd
            untrusted
        }
        """,
    ),
    _warning(
        "W205",
        "Two non-PCI masters with one StreamID on arm-smmu-v3 (the second fails to probe), "
        "or with one device ID on riscv-iommu (both probe onto one device context).",
        "arm-smmu-v3 shares a StreamID between devices only for PCI aliases "
        "(`arm_smmu_device_group`): a second platform master with the same StreamID fails "
        "its IOMMU probe. riscv-iommu gives the second master the device context the first "
        "one has (`riscv_iommu_probe_device`, `riscv_iommu_get_dc`): the two groups share it, "
        "and the domain attached last translates both. Check the masters' stream IDs.",
        """
        include "std/linux"
        platform { arch arm64; kernel 6.8 }
        iommu smmu: arm-smmu-v3
        device a: "vendor,a" { iommu smmu sid 0x10 }
        device b: "vendor,b" { iommu smmu sid 0x10 }
        """,
    ),
    _warning(
        "W206",
        "A driver domain attach that moves a whole group, with devices it did not list.",
        "`iommu_attach_group` attaches whole groups, so attaching this domain to a device "
        "moves every device of the device's group into it, including devices the `domain` "
        "statement does not list. List them in `attach` if that is what the driver does, or "
        "check why the devices share a group.",
        """
        include "std/linux"
        platform { arch arm64; kernel 6.8 }
        iommu smmu: arm-smmu
        device a: "vendor,a" { iommu smmu sid 0x1; driver own-domain, no-dma-api }
        device b: "vendor,b" { iommu smmu sid 0x1; driver no-dma-api }
        domain a_vm: unmanaged on smmu { attach a }
        """,
    ),
    _warning(
        "W207",
        "A DMA mask below the top of RAM with no swiotlb pool: mappings above the mask fail.",
        "The device uses dma-direct and its DMA mask does not reach the top of RAM, so "
        "buffers above the mask must bounce through swiotlb (`dma_capable`), but the "
        "platform has no swiotlb pool (arm64, x86_64, riscv64 and s390 allocate one only "
        "when RAM reaches above 4 GiB, arm32 only with LPAE and RAM above 4 GiB; `why` "
        "gives the reason for the board). Mappings above the mask fail "
        '("DMA addr ... overflow"). Put the device behind an IOMMU, widen its mask, or '
        "check the `ram` ranges.",
        """
        include "std/linux"
        platform { arch arm64; kernel 6.8; ram 0x80000000 size 2G }
        device cam: "vendor,camera" { dma-mask 31 }
        """,
    ),
    _warning(
        "W208",
        "A device whose driver builds its own domain (`driver own-domain`, from the board or "
        "a pack) that no `domain` statement attaches: the result shows it in its default "
        "domain.",
        "The device's driver allocates and attaches its own domain (GPU and DRM drivers, "
        "`iommu_attach_group`), but the board has no `domain` statement for it, so the "
        "result shows the device in its default domain, which is not where it runs. Declare "
        "the domain (`domain NAME: unmanaged on IOMMU { attach DEVICE }`, `arm-mapping` for "
        "an arm32 mapping, or `default of DEVICE`).",
        """
        include "std/linux"
        platform { arch arm64; kernel 6.8 }
        iommu smmu: arm-smmu
        device gpu: "vendor,gpu" { iommu smmu sid 0x1; driver own-domain }
        """,
    ),
    _warning(
        "W209",
        'A MediaTek M4U refuses a master whose ports are on two larbs ("Can only use one '
        'larb"): it runs untranslated.',
        "From 5.18 (635319a4a744) `mtk_iommu_probe_device` refuses a master whose ports are "
        'on more than one larb ("Can only use one larb", -EINVAL) unless the M4U\'s platform '
        "data allows it, and the master runs untranslated, with dma-direct. A port ID is "
        "`larb << 5 | port`. Check the master's `sid`s, or say `quirk multi-larb` on an M4U "
        "whose platform data has `DL_WITH_MULTI_LARB`.",
        """
        include "std/linux"
        platform { arch arm64; kernel 6.1 }
        iommu m4u: mtk-iommu
        device vdec: "mediatek,mt8183-vcodec-dec" { iommu m4u sid 0x20, sid 0x40 }
        """,
    ),
    _warning(
        "W210",
        "The kernel asks for a default domain type the IOMMU cannot allocate: no default domain.",
        "The kernel's choice for the group (a driver's `def_domain_type` wish, or the "
        "identity type a 6.7+ kernel asks for without `IOMMU_DMA` or with "
        "`ARM_DMA_USE_IOMMU`) is a type the IOMMU cannot allocate, according to its `domains`, "
        "its quirks or its stdlib pack, so `iommu_group_alloc_default_domain` fails and the "
        "group has no default domain. Check the IOMMU's `domains` and quirks, or the pack's "
        "rules for this kernel.",
        """
        include "std/linux"
        platform { arch arm64; kernel 6.8 }
        iommu smmu: arm-smmu { quirk no-identity }
        device a: "vendor,a" { iommu smmu sid 0x1 }
        rule a def-domain-type identity
        """,
    ),
    _warning(
        "W211",
        "A MediaTek M4U with `region` lines has no IOVA region that holds all of a master's "
        "ports (6.4+): the master gets no group and runs untranslated.",
        "From 6.4 (b2a6876d215b) `mtk_iommu_get_iova_region_id` puts a master in the "
        "lowest-numbered IOVA region whose ports on its larb hold all of the master's ports; "
        'where none does, it fails ("Can NOT find the region"), and the master gets no '
        "group and runs untranslated, with dma-direct. Check the `region` lines against the "
        "master's ports (`larb << 5 | port`).",
        """
        include "std/linux"
        platform { arch arm64; kernel 6.4 }
        iommu m4u: mtk-iommu { region 0 larb 0 ports 0, 1 }
        device vdec: "mediatek,mt8183-vcodec-dec" { iommu m4u sid 0x2 }
        """,
    ),
    _warning(
        "W212",
        "Before 5.19, a driver domain attached over an implicit arm32 mapping that is not "
        "released: the mapping keeps its context (and, for an `unmanaged` domain, the DMA "
        "ops).",
        "Before 5.19 `__iommu_attach_group` refused a new domain only when the group had a "
        "default domain, so on arm32, where most groups have none, a driver's domain "
        "replaced the device's implicit mapping in the hardware without releasing it. The "
        "mapping keeps its context, and for an `unmanaged` domain the device keeps its "
        "`arm_iommu` DMA ops, which map into a page table the IOMMU no longer walks for it. "
        "Drivers that detach the mapping first say `driver detaches-implicit`; or exclude "
        "the implicit mapping with `excludes implicit`.",
        """
        include "std/linux"
        platform { arch arm; kernel 5.15; config ARM_DMA_USE_IOMMU }
        iommu mc: tegra-smmu { contexts 4; domains identity, unmanaged }
        device gr3d: "nvidia,tegra30-gr3d" {
            iommu mc swgroup nv
            driver own-domain
        }
        domain drm: unmanaged on mc { attach gr3d }
        """,
    ),
    _warning(
        "W213",
        "An `excludes implicit` rule on a master of an `mtk-iommu-v1`, whose driver attaches "
        "every master to its own mapping whatever the arch code does.",
        "`excludes implicit` stops the arm32 arch code (`arch_setup_dma_ops`) from giving a "
        "device its own mapping, but an mtk-iommu-v1's masters are attached by its driver, to "
        "the driver's one shared mapping (`mtk_iommu_v1_probe_finalize`), so the rule cannot "
        "keep the device out of an IOMMU mapping. Drop the rule.",
        """
        include "std/linux"
        platform { arch arm; kernel 6.8; config ARM_DMA_USE_IOMMU }
        iommu m4u: mtk-iommu-v1
        device disp: "mediatek,mt7623-disp-ovl" { iommu m4u sid 0x0 }
        rule disp excludes implicit
        """,
    ),
    _warning(
        "W214",
        "`map` lines on an IOMMU that claims every PCI function itself (`intel-vtd`, "
        "`amd-vi`, `s390-iommu`: ignored) or whose kind does not translate PCI functions "
        "(they still route functions to it).",
        "`map` lines are a host bridge's `iommu-map`. VT-d and AMD-Vi claim PCI functions "
        "from their ACPI tables (DMAR, IVRS) and s390 every zPCI function, so `map` lines on "
        "them are ignored. On a kind not known to translate PCI functions (the PCI column "
        "of the kinds table) the lines still route functions to the IOMMU, which is "
        "probably not what the board means. Drop the `map` lines, or check the IOMMU kind.",
        """
        iommu vtd: intel-vtd { map rid 0x0 sid 0x0 length 0x10000 }
        """,
    ),
    _warning(
        "W215",
        "A PCI function without an `iommu` link on a machine with a `spapr-tce` PHB: the "
        "kernel puts every function in a PE; the model gives it no group (its DMA ops are "
        "still the arch's TCE ops) until the board names its PE.",
        "On POWER every PCI function is in a PE, and each PE is one IOMMU group, but the "
        "board does not say which PE this function is in. It is modelled without a group, "
        "with the arch's TCE DMA ops. Write `iommu PHB sid PE` with the `spapr-tce` of its "
        'PCI domain and the PE number dmesg names ("Configured PE#..") or its group\'s name, '
        "`domainN-peX`.",
        """
        include "std/linux"
        platform { arch powerpc; kernel 6.8 }
        iommu phb0: spapr-tce
        device nvme: "pci144d,a808" { pci 0000:01:00.0 }
        """,
    ),
    _warning(
        "W216",
        "A `blocked` domain on an `fsl-pamu` (5.19+): the PAMU has none, the core attaches "
        "an empty unmanaged domain instead, and the PAMU's attach maps its fixed 1:1 window, "
        "so DMA is not blocked.",
        "The PAMU driver has no blocked domain. From 5.19 the core stands in an empty "
        "unmanaged domain for it (`__iommu_group_alloc_blocking_domain`), and "
        "`fsl_pamu_attach_device` programs the PAMU's one hard-coded window "
        "(`pamu_set_liodn`, 0..64 GiB 1:1 since 57fa44be7fdb in 5.13), so the device's DMA "
        "still reaches memory: a VFIO user of a PAMU device is not isolated. Do not rely on "
        "the domain to block DMA.",
        """
        include "std/linux"
        platform { arch powerpc; kernel 6.1 }
        iommu pamu: fsl-pamu
        device dma0: "fsl,eloplus-dma" { iommu pamu sid 0x40 }
        domain parked: blocked on pamu { attach dma0 }
        """,
    ),
    _warning(
        "W217",
        "A quirk on a kind it means nothing for (`no-bypass` is `spapr-tce`'s, "
        "`endpoint-partitioning` `fsl-pamu`'s, `multi-larb` and `share-pgtable` "
        "`mtk-iommu`'s, `bypass-last-context` the arm-smmu kinds').",
        "Quirks describe one driver's behaviour, and this one belongs to another kind's "
        "driver, so it has no effect here; the help names the kinds it is for. Drop it, or "
        "check the IOMMU kind.",
        """
        iommu smmu: arm-smmu { quirk no-bypass }
        """,
    ),
    # -------------------------------------------------------- W8xx: importers
    _warning(
        "W218",
        "A board that does not say its kernel, its architecture or its global policy "
        "(`std/linux`): the resolution assumes kernel 6.8, arm64 and a `dma` default.",
        "Which group, domain and DMA ops a device gets changes with the kernel release, the "
        "architecture and the kernel's Kconfig and command-line policy. A board that leaves "
        "them out is resolved as a 6.8 arm64 kernel whose global default domain is `dma`, and "
        "this warning names what was assumed, so a result is never read as the board's when "
        "it is the defaults'. Add `platform { arch ARCH; kernel X.Y }` and `include "
        '"std/linux"`.',
        """
        iommu smmu: arm-smmu { contexts 8 }
        device gpu: "vendor,gpu" { iommu smmu sid 0x0 }
        """,
    ),
    _warning(
        "W219",
        "A `pci=disable_acs_redir=` or `pci=config_acs=` entry on the command line that the "
        "kernel cannot read, or a `pci=noacs`, which no kernel has.",
        "The kernel's pci_setup takes `disable_acs_redir=DEVICE[;DEVICE...]` and, from 6.11, "
        "`config_acs=FLAGS@DEVICE[;...]`. A device is `[DDDD:]BB:DD.F` or `pci:VVVV:DDDD`; "
        "FLAGS is up to seven of `0`, `1` and `x`, the rightmost for SV. The kernel skips an "
        'entry it cannot parse (it logs "PCI: Can\'t parse ACS command line parameter"), so '
        "the ACS registers stay as they were; so does the resolver, and it says which entry.",
        """
        include "std/linux"
        platform {
            arch x86_64
            kernel 6.8
            cmdline "pci=disable_acs_redir=nonsense"
        }
        iommu vtd: intel-vtd
        bridge rp: root-port { pci 0000:00:1c.0; acs yes }
        device nic: "pci8086,1533" { pci 0000:01:00.0; upstream rp }
        """,
    ),
    _warning(
        "W220",
        "An IOMMU group with a function bound to vfio-pci that VFIO cannot use: another "
        "function of the group is bound to a kernel driver.",
        "VFIO hands a VM whole IOMMU groups. From 5.19 a function bound to a driver without "
        "`driver_managed_dma` (anything but vfio-pci, pci-stub and pcieport) makes the group's "
        "owner count non-zero, so VFIO_GROUP_GET_STATUS leaves out VFIO_GROUP_FLAGS_VIABLE "
        'and QEMU stops with "group N is not viable"; before 5.19 vfio_dev_viable allowed '
        "only unbound functions, vfio drivers, pci-stub and bridges. A function the board does "
        "not say is bound (`bound DRIVER`, `vfio-pci.ids=`) is taken to have its own driver, as "
        "the kernel binds one wherever it exists. Bind it to vfio-pci too or leave it unbound.",
        """
        include "std/linux"
        platform { arch x86_64; kernel 6.8; cmdline "vfio-pci.ids=10de:1b81" }
        iommu vtd: intel-vtd
        bridge rp: root-port { pci 0000:00:01.0 }
        device gpu: "pci10de,1b81" { pci 0000:01:00.0; upstream rp }
        device hdmi: "pci10de,10f0" { pci 0000:01:00.1; upstream rp }
        """,
    ),
    _warning(
        "W221",
        "`pcie_acs_override=` on the command line of a kernel that does not carry the ACS "
        "override patch.",
        "The ACS override (`pcie_acs_override=downstream,multifunction,id:VVVV:DDDD`) is an "
        "out-of-tree patch that mainline never merged: a mainline kernel ignores the option "
        "and groups as without it, and so does the resolver. Distribution kernels that carry "
        "it (Proxmox VE, Zen, Liquorix, XanMod, CachyOS) include `std/pci/acs-override`, which "
        "says so and makes the option split the groups as the patch does.",
        """
        include "std/linux"
        platform {
            arch x86_64
            kernel 6.8
            cmdline "pcie_acs_override=downstream"
        }
        iommu vtd: intel-vtd
        bridge rp: root-port { pci 0000:00:1c.0 }
        device nic: "pci10ec,8168" { pci 0000:01:00.0; upstream rp }
        """,
    ),
    _warning(
        "W222",
        "A pack's `builds domain` rule matches devices behind several IOMMUs of a kind whose "
        "domains cannot span instances: those behind the others stay out of the domain.",
        "A driver attaches its one domain to each of its devices; on a kind whose driver "
        "refuses a domain set up on another instance (arm-smmu's `smmu_domain->smmu != "
        "smmu`, -EINVAL) the attach fails there, and the device stays in its default "
        "domain. The rule builds the domain on the IOMMU of its first device; a board that "
        "knows its driver does otherwise writes its own `domain` statement, which wins.",
        """
        include "std/linux"
        platform { arch arm64; kernel 6.8 }
        iommu smmu0: arm-smmu { contexts 8 }
        iommu smmu1: arm-smmu { contexts 8 }
        device dc0: "vendor,dc" { tags dc; iommu smmu0 sid 1 }
        device dc1: "vendor,dc" { tags dc; iommu smmu1 sid 1 }
        rule "one display domain": dc builds domain drm: unmanaged
        rule "it maps its own buffers": dc driver no-dma-api
        """,
    ),
    _warning(
        "W223",
        "An arm32 mapping's IOVA window reaches outside its IOMMU's aperture (the Tegra20 "
        "GART's 32 MiB, or a stated `aperture`): mappings there fail.",
        "arm32's dma_iommu_mapping hands out IOVAs from the bottom of its window "
        "(arch/arm/mm/dma-mapping.c: __alloc_iova, first fit), and the window is the one "
        "arm_iommu_create_mapping was given: the device's dma-ranges, else 0 and 4 GiB, for "
        "the implicit mapping; the driver's own base and size (`window`) for a driver's. The "
        "arm32 code never looks at the domain's aperture, but the IOMMU driver's map does "
        "(tegra-gart: gart_iova_range_invalid; sprd-iommu: sprd_iommu_map; -EINVAL), so a "
        "window that starts below the aperture fails every mapping, and one that ends past "
        "it fails once the IOVAs inside are used up. Exclude the implicit mapping for the "
        "device, or give the driver's mapping a window inside the aperture.",
        """
        include "std/linux"
        platform { arch arm; kernel 6.1; config ARM_DMA_USE_IOMMU }
        iommu gart: tegra-gart { aperture 0x58000000 size 32M }
        device gr2d: "nvidia,tegra20-gr2d" { iommu gart }
        """,
    ),
    _warning(
        "W801",
        "`import listing`: a line that was not understood, skipped: a listing or `lspci -nn` "
        "line without its class or IDs, a broken `lspci -t` line, a kernel-log line that "
        "starts like an IOMMU, PCI or version line and is cut off (other kernel-log lines "
        "are skipped silently), or a fact that contradicts another input of the same machine "
        "(the first is kept).",
        "The importer skipped a line it could not use, and says why: plain `lspci` output "
        "lacks the `[cccc]` class and `[vvvv:dddd]` IDs that `lspci -nn` prints, an "
        "`lspci -tv` tree line is broken, or a kernel-log line is cut off. A fact that "
        "contradicts what another input of the same machine said is skipped too, and the "
        "first one is kept. Past 50 skipped lines one warning counts the rest. Give the "
        "output of `lspci -nn` (or the IOMMU-group script run with it).",
        """
        IOMMU Group 1:
            00:02.0 VGA compatible controller [0300]: Intel UHD 630 [8086:3e92]
        IOMMU Group 2:
            00:1f.3 Audio device: Intel Cannon Lake PCH cAVS [8086:a348]
        """,
        _LISTING,
    ),
    _warning(
        "W802",
        "`snapshot`: IOMMU groups exist but /sys/class/iommu is empty: one `intel-vtd` is assumed.",
        "The machine has IOMMU groups, but /sys/class/iommu names no IOMMU, so the snapshot "
        "cannot tell which driver made them and assumes one `intel-vtd`. Correct the "
        "generated `iommu` statement to the machine's IOMMU.",
        """
        $ mkdir -p root/sys/kernel/iommu_groups/0/devices
        $ iommu-rules snapshot --root root
        """,
        _SHELL,
    ),
    _warning(
        "W803",
        "`snapshot`: a group member that is not a PCI device the snapshot describes: skipped.",
        "An IOMMU group lists a member that is not one of the PCI devices the snapshot "
        "describes (a platform device, on an Arm or RISC-V machine), so its group "
        "membership is not recorded. Add the device to the rule file by hand if it matters.",
        """
        $ mkdir -p root/sys/class/iommu/dmar0
        $ mkdir -p root/sys/kernel/iommu_groups/0/devices/ff000000.gpu
        $ iommu-rules snapshot --root root
        """,
        _SHELL,
    ),
    _warning(
        "W804",
        "`snapshot`: an IOMMU that reaches PCI functions through an `iommu-map` sysfs does "
        "not show: stream ID = requester ID is assumed.",
        "A device-tree IOMMU (an SMMUv3, say) reaches PCI functions through its host "
        "bridge's `iommu-map`, which sysfs does not show, so the snapshot writes a `map` "
        "entry that makes each stream ID the requester ID. Replace it with the board's real "
        "`iommu-map` (`iommu-rules import dts` reads it).",
        """
        $ mkdir -p root/sys/class/iommu/smmu3.0x0000000009050000
        $ mkdir -p root/sys/bus/pci/devices
        $ iommu-rules snapshot --root root
        """,
        _SHELL,
    ),
    _warning(
        "W805",
        "`snapshot`: PCI config space the snapshot could not read (run as a user): the "
        "functions' PCI Express types and ACS registers are left out.",
        "The kernel decides isolation from each function's config space: its Express type, "
        "its multifunction bit and its ACS registers. /sys/bus/pci/devices/*/config gives a "
        "user only the first 64 bytes, before the capability list, so the snapshot cannot "
        "write `pcie`, `multifunction` or `acs cap` for them and the resolver falls back on "
        "the quirk tables and its defaults. Run the snapshot as root for the whole picture.",
        """
        $ mkdir -p root/sys/bus/pci/devices/0000:00:1f.0
        $ printf '\\x86\\x80\\xc9\\xa2' > root/sys/bus/pci/devices/0000:00:1f.0/config
        $ iommu-rules snapshot --root root
        """,
        _SHELL,
    ),
    _warning(
        "W806",
        "`snapshot` of a machine with no IOMMU on: the IOMMU is taken from the host bridge's "
        "vendor and the groups are predicted, not observed.",
        "With the IOMMU off (in the firmware, or `intel_iommu=off`, or a kernel that leaves "
        "it off by default) there is no /sys/class/iommu entry and no group. The snapshot "
        "still writes the board, with the IOMMU an Intel (VT-d) or AMD (AMD-Vi) host bridge "
        "implies, so you can ask what the groups would be: `iommu-rules whatif board.iommu "
        "--set 'cmdline \"intel_iommu=on\"'`. No group is recorded as an expectation.",
        """
        $ mkdir -p root/sys/bus/pci/devices/0000:00:00.0
        $ printf '0x8086' > root/sys/bus/pci/devices/0000:00:00.0/vendor
        $ truncate -s 4096 root/sys/bus/pci/devices/0000:00:00.0/config
        $ iommu-rules snapshot --root root
        """,
        _SHELL,
    ),
    _warning(
        "W811",
        "`import dts`: an IOMMU node with an unknown compatible, or one driven by a driver "
        "iommu-rules does not model: skipped.",
        "An IOMMU node (it has `#iommu-cells`) has a compatible no modelled IOMMU kind "
        "matches, or one of a driver iommu-rules knows of but does not model, so it is "
        "skipped, and its clients are written without it. Describe it by hand if a kind fits.",
        """
        /dts-v1/;
        / {
            #address-cells = <1>;
            #size-cells = <1>;
            iommu@1000 {
                compatible = "vendor,unknown-iommu";
                reg = <0x1000 0x100>;
                #iommu-cells = <1>;
            };
            smmu: iommu@2000 {
                compatible = "arm,mmu-500";
                reg = <0x2000 0x100>;
                #iommu-cells = <1>;
            };
            gpu@3000 {
                compatible = "vendor,gpu";
                reg = <0x3000 0x100>;
                iommus = <&smmu 0x1>;
            };
        };
        """,
        _DTS,
    ),
    _warning(
        "W812",
        "`import dts`: an `iommus` or `iommu-map` entry that points at no known IOMMU, or at "
        "one that is not modelled: skipped (the device is written untranslated).",
        "An `iommus` entry (or an `iommu-map` entry) names a node that is not an IOMMU the "
        "importer knows, or an IOMMU it skipped (W811). The entry is skipped, and the device "
        "is written without it and shows as untranslated. Check the phandle, or describe "
        "the IOMMU by hand.",
        """
        /dts-v1/;
        / {
            #address-cells = <1>;
            #size-cells = <1>;
            nothing: dummy@1000 {
                reg = <0x1000 0x100>;
            };
            gpu@2000 {
                compatible = "vendor,gpu";
                reg = <0x2000 0x100>;
                iommus = <&nothing 0x1>;
            };
        };
        """,
        _DTS,
    ),
    _warning(
        "W813",
        "`import dts`: no enabled node with an `iommus` property.",
        "The device tree has no node with an `iommus` property, so the rule file has no "
        "translated device: the IOMMUs' clients may be in an included .dtsi that was not "
        "found or not given, or reach the IOMMU only through `iommu-map`. Check the includes "
        "(`-I`). Where it has such nodes but every one is disabled (`status` other than "
        '"okay"), the warning says so and names them: the SoC\'s .dtsi alone, or a board that '
        "enables none of its IOMMU masters.",
        """
        /dts-v1/;
        / {
            #address-cells = <1>;
            #size-cells = <1>;
            smmu: iommu@1000 {
                compatible = "arm,mmu-500";
                reg = <0x1000 0x100>;
                #iommu-cells = <1>;
            };
        };
        """,
        _DTS,
    ),
    _warning(
        "W814",
        "`import dts`: an `iommu-map` that is not imported (its cells do not divide into "
        "entries, a range maps onto a multi-cell specifier, its IOMMU's fact pack declares it "
        "without maps, or its node is not a PCI host), or an entry's second specifier cell "
        "that a `map` cannot carry (imported without it).",
        "The importer turns a PCI host bridge's `iommu-map` into `map` lines, as `of_map_id` "
        "reads it (entries of the target's `#iommu-cells` since ccb2fd725d41, or the old "
        "one-cell form). It skips a map it cannot read that way: cells that do not divide "
        'into entries, a range of IDs onto a multi-cell specifier ("cannot handle %d-ID '
        'range"), an IOMMU its SoC fact pack declares without maps, or a node that is not a '
        'PCI host (`device_type = "pci"`). A second specifier cell is kept only as an '
        "arm-smmu SMR mask. Write what the map means by hand, as the message suggests.",
        """
        /dts-v1/;
        / {
            #address-cells = <1>;
            #size-cells = <1>;
            smmu: iommu@1000 {
                compatible = "arm,mmu-500";
                reg = <0x1000 0x100>;
                #iommu-cells = <1>;
            };
            host1x@2000 {
                compatible = "vendor,host1x";
                reg = <0x2000 0x100>;
                iommu-map = <0 &smmu 0x10 8>;
                iommus = <&smmu 0x1>;
            };
        };
        """,
        _DTS,
    ),
    _warning(
        "W815",
        "`import dts`: an msm-iommu node without `qcom,ncb`, written `disabled` because its "
        "driver does not probe.",
        '`msm_iommu_probe` fails without the node\'s `qcom,ncb` ("could not get ncb"), so '
        "the IOMMU never exists, and the importer writes it `disabled`: its clients are "
        "untranslated. If the node should have `qcom,ncb`, write `contexts N` instead.",
        """
        /dts-v1/;
        / {
            #address-cells = <1>;
            #size-cells = <1>;
            mdp_iommu: iommu@7500000 {
                compatible = "qcom,apq8064-iommu";
                reg = <0x7500000 0x100000>;
                #iommu-cells = <1>;
            };
            mdp@5100000 {
                compatible = "qcom,mdp4";
                reg = <0x5100000 0xf0000>;
                iommus = <&mdp_iommu 0>;
            };
        };
        """,
        _DTS,
    ),
)

CODES: dict[str, Code] = {c.code: c for c in sorted(_ALL, key=lambda c: c.code)}
"""Every code, in code order (E before W)."""


def lookup(code: str) -> Code | None:
    """The record of a code ('E104', 'e104'), or None for a code iommu-rules never emits."""
    return CODES.get(code.strip().upper())


_HOW = {
    ExampleKind.RULE_FILE: "a rule file, example.iommu; `iommu-rules check example.iommu` "
    "reports {code}",
    ExampleKind.SHELL: "in a shell, in an empty directory",
    ExampleKind.CHANGE: "a what-if change, as the REPL's `try` takes it (`iommu-rules "
    "whatif FILE` takes `set X` as `--set X`, `drop device X` as `--drop-device X`, ...)",
    ExampleKind.REPL: "typed at the `iommu-rules repl` prompt",
    ExampleKind.LISTING: "a listing, listing.txt; `iommu-rules import listing listing.txt` "
    "reports {code}",
    ExampleKind.DEVICE_TREE: "a device tree, board.dts; `iommu-rules import dts board.dts` "
    "reports {code}",
}


def _fill(text: str, subsequent_indent: str = "") -> str:
    """Wrap at WIDTH, never inside a `code span`, a word or at a hyphen."""
    spans = re.sub(r"`[^`]*`", lambda m: m.group().replace(" ", "\0"), " ".join(text.split()))
    wrapped = textwrap.fill(
        spans,
        WIDTH,
        subsequent_indent=subsequent_indent,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return wrapped.replace("\0", " ")


def explain_text(code: str) -> str:
    """What `iommu-rules explain CODE` prints: the code, its severity and summary, the
    explanation wrapped at 80 columns, and the example, indented. Raises KeyError (with a
    did-you-mean) for a code iommu-rules never emits."""
    found = lookup(code)
    if found is None:
        hint = did_you_mean(code.strip().upper(), CODES)
        raise KeyError(f"no diagnostic code '{code}'" + (f"; {hint}" if hint else ""))
    head = _fill(f"{found.code} ({found.severity.value}): {found.summary}", INDENT)
    prose = [_fill(p) for p in found.explanation.split("\n\n")]
    how = _fill(f"Example: {_HOW[found.example_kind].format(code=found.code)}:")
    example = textwrap.indent(found.example, INDENT)
    return "\n\n".join([head, *prose, how]) + "\n\n" + example


def markdown_tables() -> tuple[str, str]:
    """The errors table and the warnings table of docs/language.md's Diagnostics section,
    from the registry (a test keeps them equal)."""

    def table(severity: Severity) -> str:
        rows = ["| Code | Meaning |", "|---|---|"]
        for c in CODES.values():
            if c.severity is severity:
                rows.append(f"| `{c.code}` | {c.summary.replace('|', chr(92) + '|')} |")
        return "\n".join(rows) + "\n"

    return table(Severity.ERROR), table(Severity.WARNING)


__all__ = ["CODES", "Code", "ExampleKind", "explain_text", "lookup", "markdown_tables"]
