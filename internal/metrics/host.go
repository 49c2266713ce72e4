package metrics

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/mem"
	"github.com/shirou/gopsutil/v4/net"
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(Namespace+"_"+name, help, labels, nil)
}

var (
	descCPUUsage     = desc("host_cpu_usage_ratio", "Share of time each CPU was busy since the previous scrape (0–1; since boot at the first).", "cpu")
	descCPUs         = desc("host_cpus", "Logical CPUs of the host.")
	descMemTotal     = desc("host_memory_size_bytes", "Physical memory of the host.")
	descMemAvailable = desc("host_memory_available_bytes", "Memory available to new work without swapping.")
	descMemUsed      = desc("host_memory_used_ratio", "Share of memory in use (1 - available/total).")
	descDiskSize     = desc("host_filesystem_size_bytes", "Size of the filesystem holding each appliance directory.", "path")
	descDiskFree     = desc("host_filesystem_free_bytes", "Bytes free to unprivileged users on the filesystem holding each appliance directory.", "path")
	descDiskUsed     = desc("host_filesystem_used_ratio", "Share of the filesystem holding each appliance directory that is used.", "path")
	descDiskRead     = desc("host_disk_read_bytes_total", "Bytes read from each block device.", "device")
	descDiskWritten  = desc("host_disk_written_bytes_total", "Bytes written to each block device.", "device")
	descDiskReads    = desc("host_disk_reads_completed_total", "Reads completed by each block device.", "device")
	descDiskWrites   = desc("host_disk_writes_completed_total", "Writes completed by each block device.", "device")
	descDiskIOTime   = desc("host_disk_io_time_seconds_total", "Time each block device spent doing I/O.", "device")
	descNetRecv      = desc("host_network_received_bytes_total", "Bytes received by each network interface.", "interface")
	descNetSent      = desc("host_network_transmitted_bytes_total", "Bytes transmitted by each network interface.", "interface")
	descNetRecvPkts  = desc("host_network_received_packets_total", "Packets received by each network interface.", "interface")
	descNetSentPkts  = desc("host_network_transmitted_packets_total", "Packets transmitted by each network interface.", "interface")
	descNetErrors    = desc("host_network_errors_total", "Receive and transmit errors of each network interface.", "interface", "direction")
)

// cpuSampler turns the kernel's cumulative CPU times into the busy share
// since its previous call. Each reader (scrapes, the alert source) has
// its own, so one's rhythm does not shorten the other's interval.
type cpuSampler struct {
	mu   sync.Mutex
	last map[string]cpu.TimesStat
}

// busy is the busy share of each CPU (perCPU) or of all together, since
// the previous call; the first call gives the share since boot.
func (s *cpuSampler) busy(ctx context.Context, perCPU bool) (map[string]float64, error) {
	times, err := cpu.TimesWithContext(ctx, perCPU)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		s.last = map[string]cpu.TimesStat{}
	}
	out := make(map[string]float64, len(times))
	for _, t := range times {
		prev := s.last[t.CPU]
		out[t.CPU] = busyShare(prev, t)
		s.last[t.CPU] = t
	}
	return out, nil
}

// busyShare is the share of non-idle time between two readings.
func busyShare(a, b cpu.TimesStat) float64 {
	idle := func(t cpu.TimesStat) float64 { return t.Idle + t.Iowait }
	total := func(t cpu.TimesStat) float64 {
		// Guest time is already in User and Nice on Linux.
		return t.User + t.System + t.Idle + t.Nice + t.Iowait + t.Irq + t.Softirq + t.Steal
	}
	dt := total(b) - total(a)
	if dt <= 0 {
		return 0
	}
	share := 1 - (idle(b)-idle(a))/dt
	return min(max(share, 0), 1)
}

// hostCollector reads the host through gopsutil at each scrape.
type hostCollector struct {
	disks  []string
	logger *slog.Logger
	cpu    cpuSampler
}

func newHostCollector(disks []string, logger *slog.Logger) *hostCollector {
	return &hostCollector{disks: disks, logger: logger}
}

func (h *hostCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCPUUsage, descCPUs, descMemTotal, descMemAvailable, descMemUsed,
		descDiskSize, descDiskFree, descDiskUsed, descDiskRead, descDiskWritten, descDiskReads, descDiskWrites, descDiskIOTime,
		descNetRecv, descNetSent, descNetRecvPkts, descNetSentPkts, descNetErrors} {
		ch <- d
	}
}

func (h *hostCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := scrapeContext()
	defer cancel()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	if busy, err := h.cpu.busy(ctx, true); err != nil {
		h.logger.Warn("metrics: cpu times", "err", err)
	} else {
		gauge(descCPUs, float64(len(busy)))
		for c, v := range busy {
			gauge(descCPUUsage, v, strings.TrimPrefix(c, "cpu"))
		}
	}
	if vm, err := mem.VirtualMemoryWithContext(ctx); err != nil {
		h.logger.Warn("metrics: memory", "err", err)
	} else {
		gauge(descMemTotal, float64(vm.Total))
		gauge(descMemAvailable, float64(vm.Available))
		gauge(descMemUsed, memoryUsed(vm))
	}
	for _, dir := range h.disks {
		u, err := diskUsage(ctx, dir)
		if err != nil {
			h.logger.Warn("metrics: filesystem", "path", dir, "err", err)
			continue
		}
		gauge(descDiskSize, float64(u.Total), dir)
		gauge(descDiskFree, float64(u.Free), dir)
		gauge(descDiskUsed, u.UsedPercent/100, dir)
	}
	if io, err := disk.IOCountersWithContext(ctx); err != nil {
		h.logger.Warn("metrics: disk i/o", "err", err)
	} else {
		for name, c := range io {
			if !realDevice(name) {
				continue
			}
			counter(descDiskRead, float64(c.ReadBytes), name)
			counter(descDiskWritten, float64(c.WriteBytes), name)
			counter(descDiskReads, float64(c.ReadCount), name)
			counter(descDiskWrites, float64(c.WriteCount), name)
			counter(descDiskIOTime, float64(c.IoTime)/1000, name) // ms
		}
	}
	if nics, err := net.IOCountersWithContext(ctx, true); err != nil {
		h.logger.Warn("metrics: network", "err", err)
	} else {
		for _, n := range nics {
			counter(descNetRecv, float64(n.BytesRecv), n.Name)
			counter(descNetSent, float64(n.BytesSent), n.Name)
			counter(descNetRecvPkts, float64(n.PacketsRecv), n.Name)
			counter(descNetSentPkts, float64(n.PacketsSent), n.Name)
			counter(descNetErrors, float64(n.Errin), n.Name, "receive")
			counter(descNetErrors, float64(n.Errout), n.Name, "transmit")
		}
	}
}

func memoryUsed(vm *mem.VirtualMemoryStat) float64 {
	if vm.Total == 0 {
		return 0
	}
	return 1 - float64(vm.Available)/float64(vm.Total)
}

// realDevice leaves out loop and RAM devices, which a container host may
// have by the hundred and which hold no appliance data.
func realDevice(name string) bool {
	for _, p := range []string{"loop", "ram", "zram", "nbd"} {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	return true
}

// diskUsage measures the filesystem of dir, or of its nearest existing
// parent while dir is not made yet (a backup directory before the first
// backup).
func diskUsage(ctx context.Context, dir string) (*disk.UsageStat, error) {
	p := filepath.Clean(dir)
	for {
		if _, err := os.Stat(p); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		p = parent
	}
	return disk.UsageWithContext(ctx, p)
}
