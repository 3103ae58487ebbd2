import MeterRuntime

/// The control loop's input change; MeterDrivers has a type of the same name (a GPIO edge).
typealias RuntimeInputChange = InputChange
