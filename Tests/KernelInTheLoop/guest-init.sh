#!/bin/busybox sh
# /init of the kernel-in-the-loop guest: mounts the kernel's filesystems, makes a gpio-sim chip
# whose line offsets are the Pi's BCM numbers, starts the device-model servers, runs the test
# binary as root and the permission checks as an unprivileged user, prints marker lines, and
# powers off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# Debian's kernel builds these as modules; gpio-sim is the project's build of the kernel's own.
while read -r module; do
    insmod "/lib/modules/$module.ko" || echo "KITL-NOTE insmod $module failed"
done </lib/modules/load-order
mount -t configfs none /sys/kernel/config
mount -t tmpfs tmp /tmp

sim=/sys/kernel/config/gpio-sim/meter
mkdir "$sim" "$sim/bank0"
echo 28 >"$sim/bank0/num_lines"
echo 1 >"$sim/live"
chip=$(cat "$sim/bank0/chip_name")
platform=$(cat "$sim/dev_name")

# I2C through the kernel: an emulated CP2112 USB-I2C bridge (uhid) that the kernel's hid-cp2112
# driver turns into a real adapter, /dev/i2c-0, whose far side is the project's chip models.
bridge=""
if [ -x /bin/meter-cp2112 ]; then
    /bin/meter-cp2112 -- /bin/meter-models i2c >>/tmp/cp2112.log 2>&1 &
    for _ in $(seq 50); do
        for adapter in /sys/class/i2c-dev/i2c-*; do
            grep -qs CP2112 "$adapter/name" && bridge=/dev/${adapter##*/}
        done
        [ -n "$bridge" ] && [ -e "$bridge" ] && break
        sleep 0.1
    done
    [ -n "$bridge" ] || echo "KITL-NOTE the CP2112 bridge's I2C adapter did not appear"
fi

# I2C and SPI through CUSE as well: real ioctl numbers and structures, served by the same
# models from userspace (SPI only this way: the guest has no SPI controller).
serve() {
    kind=$1 name=$2
    shift 2
    /bin/meter-cuse "$kind" "$name" -- "$@" >>/tmp/cuse.log 2>&1 &
    for _ in $(seq 50); do
        [ -e "/dev/$name" ] && return 0
        sleep 0.1
    done
    echo "KITL-NOTE /dev/$name did not appear"
}
i2c=""
spi=""
spi_absent=""
if [ -x /bin/meter-cuse ]; then
    serve i2c i2c-1 /bin/meter-models i2c && i2c=/dev/i2c-1
    serve spi spidev0.0 /bin/meter-models spi && spi=/dev/spidev0.0
    serve spi spidev0.1 /bin/meter-models spi-absent && spi_absent=/dev/spidev0.1
fi

mount -t tracefs tracefs /sys/kernel/tracing

echo "KITL-BEGIN kernel $(uname -r), gpio-sim $chip, clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
timeout 300 /bin/meter-hwtest run --target qemu --gpio-chip "/dev/$chip" \
    --sim-sysfs "/sys/devices/platform/$platform/$chip" --i2c-bridge "$bridge" \
    --i2c "$i2c" --i2c-nack-errno ENXIO --spi "$spi" --spi-absent "$spi_absent"
echo "KITL-EXIT run $?"
# R-P8 through the control loop: over-current edge → MeterRuntime → OPEN coil, on the kernel's
# I2C adapter (hid-cp2112) when it came up, else on the CUSE bus.
timeout 300 /bin/meter-loop-latency --gpio-chip "/dev/$chip" \
    --sim-sysfs "/sys/devices/platform/$platform/$chip" --i2c "${bridge:-$i2c}"
echo "KITL-EXIT loop-latency $?"
if [ -x /bin/meter-hwtest-libgpiod2 ]; then
    # The GPIO backend again, built against libgpiod 2.x (uAPI v2).
    timeout 120 /bin/meter-hwtest-libgpiod2 run --target qemu --gpio-chip "/dev/$chip" \
        --sim-sysfs "/sys/devices/platform/$platform/$chip" --i2c "" --spi "" --latency-samples 0
    echo "KITL-EXIT libgpiod2 $?"
fi
/bin/meter-hwtest permissions --as-user 1000 --gpio-chip "/dev/$chip" --i2c "$i2c" \
    --i2c-bridge "$bridge" --spi "$spi"
echo "KITL-EXIT permissions $?"
[ -f /tmp/cuse.log ] && sed 's/^/cuse: /' /tmp/cuse.log
[ -f /tmp/cp2112.log ] && sed 's/^/cp2112: /' /tmp/cp2112.log
dmesg | grep -iE 'cp2112|tsc|clocksource' | sed 's/^/dmesg: /'
reboot -f
