/* SPDX-License-Identifier: MIT */
/*
 * EEH: the error state of each partitionable endpoint (PE) and the calls
 * that recover it (emu/emu.h "EEH", docs/eeh.md).
 *
 * A PE has two freeze bits, MMIO and DMA, as a POWER host bridge keeps them
 * per PE, and a reset line.  The hardware sets both bits on an error (a DMA
 * that faults, an injected error when its access happens); the OS clears
 * them one by one (eeh_pe_set_option's THAW_MMIO / THAW_DMA), by taking the
 * PE over (ENABLE: eeh_pe_change_owner thaws a frozen PE), or by a reset
 * cycle (eeh_pe_reset: HOT or FUNDAMENTAL freezes first and asserts, then
 * DEACTIVATE deasserts, restores the config the reset lost and thaws).  The
 * state GET_STATE reports is derived from the bits as eeh_pe_get_state
 * does: reset first, then both enabled, both stopped, DMA only stopped,
 * and the one left (MMIO stopped, DMA running) is "unavailable".
 *
 * Why a faulting DMA freezes only a PE whose EEH is enabled: PAPR lets the
 * OS switch error isolation on per PE (ibm,set-eeh-option), QEMU enables it
 * at every machine reset (VFIO_EEH_PE_OP ENABLE) and the guest's Linux
 * again at probe, before any DMA, so every user that speaks EEH gets the
 * hardware's behaviour; a program that never heard of EEH (DPDK, QEMU with
 * more than one group in a container, where it offers no EEH) keeps
 * working after a fault and its fault log shows every later fault, not a
 * row of "PE frozen".  A powernv host freezes whatever the owner asked for
 * and ignores DISABLE, until the device is released; the answers of the
 * requests are the same either way (docs/eeh.md weighs it).  Injected
 * errors and emu_pe_freeze freeze any PE: someone asked for exactly that.
 *
 * Why the state lives in the endpoint under ep->lock: the DMA path already
 * holds that lock while it translates, so a DMA checks the freeze and a
 * fault freezes the PE without another lock on the hot path.  Calls from
 * outside that must not race a DMA moving bytes (a freeze, a reset) take
 * ep->rw for writing too: when they return, no DMA that started before the
 * freeze is still copying, and every later one sees it.
 *
 * The device side of a reset (the model's reset, bus mastering off, the
 * restore) is emu/dev.c's and runs without the endpoint's locks, since the
 * device lock comes before them (emu/dev.h).
 */
#include <errno.h>

#include "emu/phb_priv.h"

static const char *const cause_names[EMU_PE_CAUSE_NCAUSES] = {
	[EMU_PE_CAUSE_DMA_FAULT] = "DMA fault",
	[EMU_PE_CAUSE_INJECTED] = "injected",
	[EMU_PE_CAUSE_EXTERNAL] = "external",
};

const char *emu_pe_cause_name(enum emu_pe_cause cause)
{
	if ((unsigned)cause >= EMU_PE_CAUSE_NCAUSES)
		return "?";
	return cause_names[cause];
}

/* The endpoint of @group if the machine has EEH.  0, -ENODEV, -ENOMEM. */
static int pe_get(int group, struct emu__endpoint **ep)
{
	int rc = emu__endpoint(group, ep);

	if (rc)
		return rc;
	return emu__machine.cfg.eeh ? 0 : -ENODEV;
}

static bool frozen(const struct emu__pe *pe)
{
	return pe->st.mmio_frozen || pe->st.dma_frozen;
}

/* Under ep->lock: both bits set; counted when the PE was not frozen at all. */
static void freeze(struct emu__pe *pe, int cause)
{
	if (!frozen(pe) && cause >= 0)
		pe->st.freezes[cause]++;
	pe->st.mmio_frozen = pe->st.dma_frozen = true;
}

/* Under ep->lock: clears one bit or both; a PE that ends unfrozen is a recovery. */
static void thaw(struct emu__pe *pe, bool mmio, bool dma)
{
	bool was = frozen(pe);

	if (mmio)
		pe->st.mmio_frozen = false;
	if (dma)
		pe->st.dma_frozen = false;
	if (was && !frozen(pe))
		pe->st.recoveries++;
}

/* Whether an armed injection matches an access of @kind at @addr; disarms it if so. */
static bool inject_hit(struct emu__pe *pe, enum emu_pe_access kind, uint64_t addr)
{
	uint64_t width = pe->inj_type == 0 ? 0xffffffffull : ~0ull;

	/* Functions come in groups: address and data (and master, target) errors of one kind. */
	static const unsigned char kind_of[EMU_PE_INJECT_FUNC_MAX + 1] = {
		EMU_PE_LOAD_MEM, EMU_PE_LOAD_MEM, EMU_PE_LOAD_IO, EMU_PE_LOAD_IO,
		EMU_PE_LOAD_CFG, EMU_PE_LOAD_CFG, EMU_PE_STORE_MEM, EMU_PE_STORE_MEM,
		EMU_PE_STORE_IO, EMU_PE_STORE_IO, EMU_PE_STORE_CFG, EMU_PE_STORE_CFG,
		EMU_PE_DMA_READ, EMU_PE_DMA_READ, EMU_PE_DMA_READ, EMU_PE_DMA_READ,
		EMU_PE_DMA_WRITE, EMU_PE_DMA_WRITE, EMU_PE_DMA_WRITE, EMU_PE_DMA_WRITE,
	};

	if (!pe->st.inject_armed || kind_of[pe->inj_func] != kind ||
	    ((addr ^ pe->inj_addr) & pe->inj_mask & width))
		return false;
	pe->st.inject_armed = false;
	return true;
}

void emu__pe_fault(struct emu__endpoint *ep, enum emu_fault_reason reason)
{
	if (emu__machine.cfg.eeh && ep->pe.st.enabled && reason != EMU_FAULT_FROZEN)
		freeze(&ep->pe, EMU_PE_CAUSE_DMA_FAULT);
}

int emu__pe_dma(struct emu__endpoint *ep, uint64_t iova, enum emu_dma_access access)
{
	struct emu__pe *pe = &ep->pe;

	if (!emu__machine.cfg.eeh)
		return 0;
	if (!pe->st.dma_frozen) {
		if (!inject_hit(pe, access == EMU_DMA_WRITE ? EMU_PE_DMA_WRITE : EMU_PE_DMA_READ,
				iova))
			return 0;
		freeze(pe, EMU_PE_CAUSE_INJECTED);
	}
	pe->st.dma_stopped++;
	emu__fault_record(ep, iova, 0, access, EMU_FAULT_FROZEN);
	return -ESHUTDOWN;
}

bool emu_pe_access(int group, enum emu_pe_access kind, uint64_t addr)
{
	struct emu__endpoint *ep;
	bool ok = true;

	if (pe_get(group, &ep))
		return true;
	pthread_mutex_lock(&ep->lock);
	if (!ep->pe.st.mmio_frozen && inject_hit(&ep->pe, kind, addr))
		freeze(&ep->pe, EMU_PE_CAUSE_INJECTED);
	if (ep->pe.st.mmio_frozen) {
		ep->pe.st.mmio_stopped++;
		ok = false;
	}
	pthread_mutex_unlock(&ep->lock);
	return ok;
}

int emu_pe_freeze(int group)
{
	struct emu__endpoint *ep;
	int rc = pe_get(group, &ep);

	if (rc)
		return rc;
	pthread_rwlock_wrlock(&ep->rw);
	pthread_mutex_lock(&ep->lock);
	freeze(&ep->pe, EMU_PE_CAUSE_EXTERNAL);
	pthread_mutex_unlock(&ep->lock);
	pthread_rwlock_unlock(&ep->rw);
	return 0;
}

int emu_pe_get_state(int group)
{
	struct emu__endpoint *ep;
	const struct emu_pe_status *st;
	int rc = pe_get(group, &ep);

	if (rc)
		return rc;
	st = &ep->pe.st;
	pthread_mutex_lock(&ep->lock);
	if (st->reset != EMU_PE_RESET_DEACTIVATE)
		rc = EMU_PE_STATE_RESET;
	else if (!st->mmio_frozen && !st->dma_frozen)
		rc = EMU_PE_STATE_NORMAL;
	else if (st->mmio_frozen && st->dma_frozen)
		rc = EMU_PE_STATE_STOPPED;
	else if (st->dma_frozen)
		rc = EMU_PE_STATE_STOPPED_DMA;
	else
		rc = EMU_PE_STATE_UNAVAIL;
	pthread_mutex_unlock(&ep->lock);
	return rc;
}

int emu_pe_set_enabled(int group, bool enabled)
{
	struct emu__endpoint *ep;
	int rc = pe_get(group, &ep);

	if (rc)
		return rc;
	pthread_mutex_lock(&ep->lock);
	ep->pe.st.enabled = enabled;
	if (enabled)
		thaw(&ep->pe, true, true);	/* eeh_pe_change_owner: eeh_unfreeze_pe */
	pthread_mutex_unlock(&ep->lock);
	return 0;
}

int emu_pe_thaw(int group, bool dma)
{
	struct emu__endpoint *ep;
	int rc = pe_get(group, &ep);

	if (rc)
		return rc;
	pthread_mutex_lock(&ep->lock);
	thaw(&ep->pe, !dma, dma);
	pthread_mutex_unlock(&ep->lock);
	return 0;
}

/* Restores what the last reset saved, if any (eeh_pe_restore_bars). */
static void restore(int group, struct emu__endpoint *ep)
{
	struct emu__dev_saved saved;

	pthread_mutex_lock(&ep->lock);
	saved = ep->pe.saved;
	pthread_mutex_unlock(&ep->lock);
	if (saved.valid)
		emu__dev_eeh_restore(group, &saved);
}

int emu_pe_reset(int group, enum emu_pe_reset how)
{
	struct emu__endpoint *ep;
	struct emu__dev_saved saved = { 0 };
	bool asserted;
	int rc = pe_get(group, &ep);

	if (rc)
		return rc;
	if (how != EMU_PE_RESET_DEACTIVATE && how != EMU_PE_RESET_HOT &&
	    how != EMU_PE_RESET_FUNDAMENTAL)
		return -EINVAL;
	if (how == EMU_PE_RESET_DEACTIVATE) {
		pthread_mutex_lock(&ep->lock);
		ep->pe.st.reset = EMU_PE_RESET_DEACTIVATE;
		pthread_mutex_unlock(&ep->lock);
		restore(group, ep);
		pthread_mutex_lock(&ep->lock);
		thaw(&ep->pe, true, true);
		pthread_mutex_unlock(&ep->lock);
		return 0;
	}
	/* eeh_pe_reset freezes the PE first so that nothing reaches the device meanwhile. */
	pthread_rwlock_wrlock(&ep->rw);
	pthread_mutex_lock(&ep->lock);
	asserted = ep->pe.st.reset != EMU_PE_RESET_DEACTIVATE;
	freeze(&ep->pe, -1);
	ep->pe.st.reset = how;
	ep->pe.st.resets++;
	pthread_mutex_unlock(&ep->lock);
	pthread_rwlock_unlock(&ep->rw);
	if (asserted)
		return 0;	/* held in reset already: what was saved stays */
	emu__dev_eeh_reset(group, &saved);
	pthread_mutex_lock(&ep->lock);
	ep->pe.saved = saved;
	pthread_mutex_unlock(&ep->lock);
	return 0;
}

int emu_pe_configure(int group)
{
	struct emu__endpoint *ep;
	int rc = pe_get(group, &ep);

	if (rc)
		return rc;
	restore(group, ep);
	return 0;
}

int emu_pe_inject(int group, unsigned type, unsigned func, uint64_t addr, uint64_t mask)
{
	struct emu__endpoint *ep;
	int rc = pe_get(group, &ep);

	if (rc)
		return rc;
	if (type > EMU_PE_INJECT_TYPE_MAX || func > EMU_PE_INJECT_FUNC_MAX)
		return -EINVAL;
	pthread_mutex_lock(&ep->lock);
	ep->pe.st.inject_armed = true;
	ep->pe.inj_type = type;
	ep->pe.inj_func = func;
	ep->pe.inj_addr = addr;
	ep->pe.inj_mask = mask;
	ep->pe.st.injections++;
	pthread_mutex_unlock(&ep->lock);
	return 0;
}

int emu_pe_status(int group, struct emu_pe_status *st)
{
	struct emu__endpoint *ep;
	int rc = pe_get(group, &ep);

	if (rc)
		return rc;
	pthread_mutex_lock(&ep->lock);
	*st = ep->pe.st;
	pthread_mutex_unlock(&ep->lock);
	return 0;
}
