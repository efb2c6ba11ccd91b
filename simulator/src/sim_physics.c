/*
 * The thermal model of one GPU, one substep at a time.
 *
 * Heat balance:  C dT/dt = P - G(fan) (T - ambient)
 *   P: idle power + the workloads' demand, bounded by the enforced power limit and cut further while
 *      the GPU throttles (software thermal slowdown at the GPU max operating temperature, hardware
 *      slowdown at the slowdown threshold, latched until it has cooled 3 °C below it);
 *   G: a passive path (heatsink to chassis air; on fanless boards the chassis airflow) plus a term
 *      proportional to the actual fan speed. A failed fan is commanded but does not turn.
 * At the shutdown threshold the board cuts power and falls off the bus (GPU_IS_LOST from then on),
 * as real boards do; it keeps cooling.
 * The profile's constants are calibrated (simulator/README.md) so that the `seed` node meets issue 2.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nvml.h"
#include "sim_state.h"

/* Fans follow their target at this rate (percent per simulated second): real fans spin up in seconds. */
#define FAN_SLEW_PERCENT_PER_S 20.0
#define SW_THERMAL_FACTOR 0.8  /* share of the load power left during software thermal slowdown */
#define HW_SLOWDOWN_FACTOR 0.4 /* ... and during hardware slowdown */
#define HW_SLOWDOWN_HYSTERESIS_C 3.0

double sim_fan_curve(const sim_gpu_config *cfg, double temp_c) {
    double span = cfg->fan_curve_high_c - cfg->fan_curve_low_c;
    double x = span > 0 ? (temp_c - cfg->fan_curve_low_c) / span : 1.0;
    if (x < 0) x = 0;
    if (x > 1) x = 1;
    return cfg->fan_min_percent + x * (cfg->fan_max_percent - cfg->fan_min_percent);
}

unsigned int sim_gpu_workload_count(const sim_node *node, unsigned int gpu) {
    unsigned int n = 0;
    for (int i = 0; i < SIM_MAX_WORKLOADS; i++)
        if (node->workloads[i].used && node->workloads[i].gpu == (int)gpu) n++;
    return n;
}

double sim_memory_temp(const sim_node *node, unsigned int gpu) {
    const sim_gpu_state *st = &node->st[gpu];
    const sim_gpu_config *cfg = &node->cfg[gpu];
    /* HBM sits beside the die: a few degrees above it, more under memory traffic. */
    double load = cfg->default_limit_w > 0 ? st->power_w / cfg->default_limit_w : 0;
    return st->temp_c + 2.0 + 6.0 * load;
}

void sim_physics_init_gpu(sim_node *node, unsigned int gpu) {
    sim_gpu_config *cfg = &node->cfg[gpu];
    sim_gpu_state *st = &node->st[gpu];
    double g_idle = cfg->conductance_base_w_per_k + cfg->conductance_fan_w_per_k * cfg->fan_min_percent / 100.0;
    /* Start near idle equilibrium so a fresh node does not spend its first minutes warming up. */
    st->temp_c = st->ambient_c + (g_idle > 0 ? cfg->idle_w / g_idle : 0);
    st->power_limit_w = cfg->default_limit_w;
    st->power_w = cfg->idle_w;
    for (unsigned int f = 0; f < cfg->fan_count && f < SIM_MAX_FANS; f++) {
        st->fan_target[f] = sim_fan_curve(cfg, st->temp_c);
        st->fan_speed[f] = st->fan_target[f];
    }
    st->clock_graphics = cfg->clock_graphics_idle;
    st->clock_mem = cfg->clock_mem_idle;
    st->temp_level = (int)floor(st->temp_c);
}

static void temperature_events(sim_node *node, unsigned int gpu) {
    sim_gpu_state *st = &node->st[gpu];
    int now = (int)floor(st->temp_c);
    char extra[64];
    while (now > st->temp_level) {
        st->temp_level++;
        snprintf(extra, sizeof extra, "\"celsius\": %d", st->temp_level);
        sim_log_event(node, node->sim_time, (int)gpu, "temperature_up", extra);
    }
    while (st->temp_c < st->temp_level) {
        snprintf(extra, sizeof extra, "\"celsius\": %d", st->temp_level);
        sim_log_event(node, node->sim_time, (int)gpu, "temperature_down", extra);
        st->temp_level--;
    }
}

void sim_physics_step(sim_node *node, unsigned int gpu, double dt) {
    sim_gpu_config *cfg = &node->cfg[gpu];
    sim_gpu_state *st = &node->st[gpu];

    double load_w = 0;
    unsigned int workloads = 0;
    for (int i = 0; i < SIM_MAX_WORKLOADS; i++) {
        if (node->workloads[i].used && node->workloads[i].gpu == (int)gpu) {
            load_w += node->workloads[i].watts;
            workloads++;
        }
    }
    unsigned long long reasons = 0;
    double power;
    if (st->shut_down) {
        power = 0;
        load_w = 0;
        workloads = 0;
    } else {
        double limit = st->power_limit_w;
        double demand = cfg->idle_w + load_w;
        st->demand_w = demand;
        power = demand;
        if (workloads == 0) reasons |= nvmlClocksEventReasonGpuIdle;
        if (demand > limit) {
            power = limit;
            reasons |= nvmlClocksEventReasonSwPowerCap;
            st->power_violation_s += dt;
        }
        double factor = 1.0;
        if (st->temp_c >= cfg->threshold_slowdown) st->hw_slowdown_latched = 1;
        else if (st->temp_c < cfg->threshold_slowdown - HW_SLOWDOWN_HYSTERESIS_C) st->hw_slowdown_latched = 0;
        if (st->hw_slowdown_latched) {
            factor = HW_SLOWDOWN_FACTOR;
            reasons |= nvmlClocksThrottleReasonHwSlowdown | nvmlClocksThrottleReasonHwThermalSlowdown;
        } else if (st->temp_c >= cfg->threshold_gpu_max) {
            factor = SW_THERMAL_FACTOR;
            reasons |= nvmlClocksEventReasonSwThermalSlowdown;
        }
        if (factor < 1.0 && workloads > 0) st->thermal_violation_s += dt;
        if (power > cfg->idle_w) power = cfg->idle_w + (power - cfg->idle_w) * factor;

        /* Clocks: idle clocks without work; boost scaled by how much of the demand is served. */
        if (workloads == 0) {
            st->clock_graphics = cfg->clock_graphics_idle;
            st->clock_mem = cfg->clock_mem_idle;
        } else {
            double served = demand > cfg->idle_w ? (power - cfg->idle_w) / (demand - cfg->idle_w) : 1.0;
            st->clock_graphics = cfg->clock_graphics_max * (0.35 + 0.65 * sqrt(served > 1 ? 1 : served));
            st->clock_mem = cfg->clock_mem_max;
        }
    }
    st->throttle_reasons = reasons;
    st->power_w = power;
    st->energy_j += power * dt;

    /* Utilization: a workload drawing the board's full power keeps it 100 % busy. */
    double usable = cfg->default_limit_w - cfg->idle_w;
    double util = workloads ? 100.0 * load_w / (usable > 1 ? usable : 1) : 0;
    if (workloads && util < 1) util = 1;
    st->util_gpu = util > 100 ? 100 : util;
    st->util_mem = st->util_gpu * 0.6;
    st->gpm_gr_active_s += dt * st->util_gpu / 100.0;
    st->gpm_tensor_active_s += dt * st->util_gpu / 100.0 * 0.7;
    st->gpm_dram_active_s += dt * st->util_mem / 100.0;
    st->gpm_pcie_rx_bytes += dt * (st->util_gpu / 100.0 * 4e9 + 1e6);
    st->gpm_pcie_tx_bytes += dt * (st->util_gpu / 100.0 * 1e9 + 1e6);

    /* Fans: the automatic curve unless under manual control; a failed fan does not turn. */
    double fan_sum = 0;
    for (unsigned int f = 0; f < cfg->fan_count && f < SIM_MAX_FANS; f++) {
        if (!st->fan_manual[f]) st->fan_target[f] = sim_fan_curve(cfg, st->temp_c);
        double want = st->fan_failure ? 0 : st->fan_target[f];
        double step = FAN_SLEW_PERCENT_PER_S * dt;
        if (st->fan_speed[f] < want) st->fan_speed[f] = fmin(want, st->fan_speed[f] + step);
        else st->fan_speed[f] = fmax(want, st->fan_speed[f] - step);
        fan_sum += st->fan_speed[f];
    }
    double fan_fraction = cfg->fan_count ? fan_sum / cfg->fan_count / 100.0 : 0;
    double conductance = cfg->conductance_base_w_per_k + cfg->conductance_fan_w_per_k * fan_fraction;
    double heat_capacity = cfg->heat_capacity_j_per_k > 0 ? cfg->heat_capacity_j_per_k : 1;
    st->temp_c += dt * (power - conductance * (st->temp_c - st->ambient_c)) / heat_capacity;

    if (!st->shut_down && st->temp_c >= cfg->threshold_shutdown) {
        st->shut_down = 1;
        char extra[64];
        snprintf(extra, sizeof extra, "\"celsius\": %.1f", st->temp_c);
        sim_log_event(node, node->sim_time, (int)gpu, "thermal_shutdown", extra);
    }
    temperature_events(node, gpu);
}
