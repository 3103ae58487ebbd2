import CMeterLinux
import Glibc
import MeterDrivers
import Testing

@testable import MeterLinux

@Suite("I2C_RDWR message marshalling")
struct I2CMarshallingTests {
  @Test("write-then-read becomes two messages to one address, the second flagged I2C_M_RD")
  func writeThenRead() throws {
    let messages = try I2CMessages(
      address: 0x38, operations: [.write([0x07, 0x02]), .read(count: 3)], path: "/dev/i2c-1")
    #expect(messages.messages.map(\.addr) == [0x38, 0x38])
    #expect(messages.messages.map(\.flags) == [0, UInt16(I2C_M_RD)])
    #expect(messages.messages.map(\.len) == [2, 3])
    #expect(Array(UnsafeBufferPointer(start: messages.messages[0].buf, count: 2)) == [0x07, 0x02])
  }

  @Test("the ioctl argument is an i2c_rdwr_ioctl_data pointing at the messages")
  func ioctlArgumentLayout() throws {
    let messages = try I2CMessages(
      address: 0x50, operations: [.write([0x00, 0x10]), .read(count: 2)], path: "/dev/i2c-1")
    try messages.withIoctlArgument { (argument) throws(BusError) in
      let data = argument.assumingMemoryBound(to: i2c_rdwr_ioctl_data.self).pointee
      #expect(data.nmsgs == 2)
      #expect(data.msgs[1].flags == UInt16(I2C_M_RD))
      // What the kernel does: fill the read buffer in place.
      data.msgs[1].buf[0] = 0xAB
      data.msgs[1].buf[1] = 0xCD
    }
    #expect(messages.readBytes() == [0xAB, 0xCD])
  }

  @Test("bytes of several reads come back concatenated in order")
  func readsConcatenate() throws {
    let messages = try I2CMessages(
      address: 0x27, operations: [.read(count: 1), .write([9]), .read(count: 2)], path: "p")
    messages.messages[0].buf[0] = 1
    messages.messages[2].buf[0] = 2
    messages.messages[2].buf[1] = 3
    #expect(messages.readBytes() == [1, 2, 3])
  }

  @Test("refused before the ioctl: 8-bit address, no operations, too many, too long")
  func refusals() {
    #expect(throws: BusError(.other, "/dev/i2c-1: 0x80 is not a 7-bit I2C address")) {
      try I2CMessages(address: 0x80, operations: [.read(count: 1)], path: "/dev/i2c-1")
    }
    #expect(throws: BusError(.other, "/dev/i2c-1: an I2C transaction needs at least one operation"))
    {
      try I2CMessages(address: 0x38, operations: [], path: "/dev/i2c-1")
    }
    #expect(throws: BusError.self) {
      try I2CMessages(
        address: 0x38, operations: Array(repeating: .read(count: 1), count: 43), path: "p")
    }
    #expect(throws: BusError.self) {
      try I2CMessages(address: 0x38, operations: [.read(count: 8193)], path: "p")
    }
  }
}

@Suite("SPI_IOC_MESSAGE marshalling")
struct SPIMarshallingTests {
  @Test("SPI_IOC_MESSAGE(n) is _IOW('k', 0, char[32 n]) as the kernel header builds it")
  func messageRequestNumber() {
    // _IOW(type, nr, size) = (1 << 30) | (size << 16) | (type << 8) | nr on x86_64 and arm64.
    #expect(MemoryLayout<spi_ioc_transfer>.size == 32)
    #expect(meter_spi_ioc_message(1) == 0x4020_6B00)
    #expect(meter_spi_ioc_message(3) == 0x4060_6B00)
    #expect(meter_spi_ioc_wr_mode == 0x4001_6B01)
    #expect(meter_spi_ioc_wr_max_speed_hz == 0x4004_6B04)
    #expect(meter_spi_ioc_message(0) == 0)
    #expect(meter_spi_ioc_message(512) == 0)
  }

  @Test("transfer, write and read become transfers sharing one chip select")
  func operationsToTransfers() throws {
    let transfers = try SPITransfers(
      operations: [.write([0x6E]), .read(count: 1), .transfer([0x80, 0x00])],
      speedHz: 4_000_000, path: "/dev/spidev0.0")
    let list = transfers.transfers
    #expect(list.map(\.len) == [1, 1, 2])
    #expect(list.map { $0.tx_buf != 0 } == [true, false, true])
    #expect(list.map { $0.rx_buf != 0 } == [false, true, true])
    #expect(
      list.allSatisfy { $0.cs_change == 0 && $0.speed_hz == 4_000_000 && $0.bits_per_word == 8 })
    #expect(UnsafePointer<UInt8>(bitPattern: UInt(list[0].tx_buf))!.pointee == 0x6E)
  }

  @Test("received bytes come from reads and full-duplex transfers, in order")
  func receivedBytesInOrder() throws {
    let transfers = try SPITransfers(
      operations: [.transfer([1, 2]), .write([3]), .read(count: 1)], speedHz: 1, path: "p")
    let list = transfers.transfers
    UnsafeMutablePointer<UInt8>(bitPattern: UInt(list[0].rx_buf))![1] = 0x22
    UnsafeMutablePointer<UInt8>(bitPattern: UInt(list[2].rx_buf))![0] = 0x91
    #expect(transfers.receivedBytes() == [0, 0x22, 0x91])
  }

  @Test("a delay rides on the transfer before it, or on an empty one when first")
  func delays() throws {
    let transfers = try SPITransfers(
      operations: [.delayMicroseconds(5), .write([1]), .delayMicroseconds(50), .read(count: 1)],
      speedHz: 1, path: "p")
    #expect(transfers.transfers.map(\.len) == [0, 1, 1])
    #expect(transfers.transfers.map(\.delay_usecs) == [5, 50, 0])
  }

  @Test("the ioctl gets SPI_IOC_MESSAGE(count) and the transfer array")
  func ioctlArgument() throws {
    let transfers = try SPITransfers(
      operations: [.write([1]), .read(count: 2)], speedHz: 1, path: "p")
    try transfers.withIoctlArgument { (request, argument) throws(BusError) in
      #expect(request == meter_spi_ioc_message(2))
      #expect(argument.assumingMemoryBound(to: spi_ioc_transfer.self)[1].len == 2)
    }
  }

  @Test("refused before the ioctl: no operations, a delay spidev cannot express")
  func refusals() {
    #expect(throws: BusError(.other, "p: an SPI transaction needs at least one operation")) {
      try SPITransfers(operations: [], speedHz: 1, path: "p")
    }
    #expect(throws: BusError.self) {
      try SPITransfers(operations: [.delayMicroseconds(70_000)], speedHz: 1, path: "p")
    }
  }
}
