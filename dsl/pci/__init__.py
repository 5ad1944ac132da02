"""The PCI layer as the kernel runs it: ACS (drivers/pci/pci.c), the quirk tables
(drivers/pci/quirks.c), DMA aliases (drivers/pci/search.c) and pci_device_group
(drivers/iommu/iommu.c), over the functions and bridges a board states."""
