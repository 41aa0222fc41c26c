//! Both regions side by side: stacks, services, targets, replica, images, traffic, alarms.
